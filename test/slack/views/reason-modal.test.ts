import { describe, expect, it } from 'vitest';
import { fieldError } from '../../../src/slack/views/modal.js';
import { readReasonModal, reasonModal } from '../../../src/slack/views/reason-modal.js';

const subject = { requestId: 'op-7k3m9q', origin: { channel: 'C0OPSCHAN1', messageTs: '1700000000.000100' } };

describe('the reason modals', () => {
  it('require a reason to reject and take an optional one to cancel, within Slack’s limits', () => {
    const reject = reasonModal('reject', subject, 500);
    const cancel = reasonModal('cancel', subject, 500);
    expect(reject).toMatchObject({ callback_id: 'ops_reject_reason', submit: { text: 'Reject' } });
    expect(cancel).toMatchObject({ callback_id: 'ops_cancel_reason', close: { text: 'Back' } });
    expect(reject.blocks[1]).toMatchObject({ block_id: 'reason', optional: false });
    expect(cancel.blocks[1]).toMatchObject({ block_id: 'reason', optional: true });
    for (const view of [reject, cancel]) {
      for (const label of [view.title, view.submit!, view.close!])
        expect(label.text.length).toBeLessThanOrEqual(24);
      expect(view.blocks[1]).toMatchObject({ element: { type: 'plain_text_input', max_length: 500 } });
    }
  });

  it('read back the request and the reason a submission carries, and nothing from a metadata they did not write', () => {
    const view = reasonModal('reject', subject, 500);
    const submitted = (privateMetadata: string, value: string | null) => ({
      private_metadata: privateMetadata,
      state: { values: { reason: { reason: { type: 'plain_text_input', value } } } },
    });
    expect(readReasonModal(submitted(view.private_metadata!, '  stale  '))).toEqual({
      subject,
      reason: 'stale',
    });
    expect(readReasonModal(submitted(view.private_metadata!, null))).toEqual({ subject, reason: '' });
    expect(readReasonModal(submitted('op-7k3m9q', 'x'))).toBeUndefined();
    expect(readReasonModal(submitted('{"requestId":1}', 'x'))).toBeUndefined();
  });
});

describe('fieldError', () => {
  it('says an answer as the plain text a field error shows', () => {
    expect(fieldError('request op-1 was already approved by <@U0BOB>.', 'U0ALICE')).toBe(
      'Request op-1 was already approved by someone else.',
    );
    expect(fieldError('already rejected by <@U0ALICE> &lt;b&gt; &amp;', 'U0ALICE')).toBe(
      'Already rejected by you <b> &',
    );
  });
});
