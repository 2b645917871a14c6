import { describe, expect, it } from 'vitest';
import type { OpsRequest, RequestState } from '../../src/requests/types.js';
import {
  dryRunMessage,
  failureBroadcastText,
  finalReply,
  progressReply,
  readAnswerMessage,
  rootMessage,
  type SlackMessage,
} from '../../src/slack/blocks.js';
import { slackDate } from '../../src/slack/mrkdwn.js';
import type { ActionProgress } from '../../src/vendors/types.js';

/**
 * The Block Kit builders on their own, read as a person reads them: the `text` fallback and every
 * block's text (Slack parses both as mrkdwn).
 */

const CREATED = Date.UTC(2025, 4, 1, 10, 0, 0);
const PING = '<!channel>';
const DISGUISED = '<https://evil.example|click here>';
const HOSTILE = `${PING} ${DISGUISED} & more`;

function request(fields: Partial<OpsRequest> = {}): OpsRequest {
  return {
    id: 'op-7k3m9q',
    actionId: 'ece.resource.restart',
    vendor: 'ece',
    target: 'prod',
    args: {},
    summary: { fields: [{ label: 'Deployment', value: 'abc' }], warnings: [] },
    channel: 'C0OPSCHAN1',
    requester: 'U0REQUEST1',
    createdAt: CREATED,
    expiresAt: CREATED + 15 * 60_000,
    highRisk: false,
    state: 'pending',
    version: 1,
    phase: 'queued',
    reported: 0,
    faults: 0,
    fence: 0,
    votes: [],
    correlationId: 'c1',
    ...fields,
  };
}

function running(fields: Partial<ActionProgress> = {}): ActionProgress {
  return { outcome: 'running', vendorJobId: 'attempt-1', status: 'rebooting', memo: null, ...fields };
}

/** Everything a person reads in a message, as Slack receives it. */
function shown(message: SlackMessage): string {
  return `${message.text}\n${JSON.stringify(message.blocks ?? [])}`;
}

const ENDED: Record<string, Partial<OpsRequest>> = {
  succeeded: {
    progress: { ...running(), outcome: 'succeeded', status: 'started', result: ['kibana back up'] },
  },
  failed: { outcome: 'ECE refused the restart', progress: { ...running(), outcome: 'failed' } },
  cancelled: { cancelledBy: 'U0APPROVE1' },
  expired: {},
  timed_out: { outcome: 'the deadline passed', progress: running() },
  unknown: { outcome: 'it may or may not have reached the vendor' },
};
const STATES: RequestState[] = ['pending', 'approved', 'running', ...(Object.keys(ENDED) as RequestState[])];

function at(state: RequestState): OpsRequest {
  return request({
    state,
    approver: state === 'pending' ? undefined : 'U0APPROVE1',
    startedAt: CREATED + 60_000,
    finishedAt: CREATED + 120_000,
    ...(state === 'running' ? { progress: running() } : {}),
    ...ENDED[state],
  });
}

describe('marks of success', () => {
  const SUCCESS = /:white_check_mark:|:heavy_check_mark:|:large_green_circle:|✅|succeeded|\bdone\b/i;

  it.each(STATES)('appear on the %s root only if it succeeded', (state) => {
    expect(SUCCESS.test(shown(rootMessage(at(state), '/ops')))).toBe(state === 'succeeded');
  });

  it.each(Object.keys(ENDED) as RequestState[])(
    'appear in the %s final reply only if it succeeded',
    (state) => {
      expect(SUCCESS.test(shown(finalReply(at(state))))).toBe(state === 'succeeded');
    },
  );

  it('appear in no progress reply, first or later', () => {
    const progress = running({ detail: 'step `rolling-restart` in progress' });
    expect(shown(progressReply(at('running'), progress, true))).not.toMatch(SUCCESS);
    expect(shown(progressReply(at('running'), progress, false))).not.toMatch(SUCCESS);
  });

  it('give approval a neutral mark: approved is not yet run', () => {
    const root = shown(rootMessage(at('approved'), '/ops'));
    expect(root).toContain(':large_blue_circle: *Approved* by <@U0APPROVE1> · queued to run');
  });
});

describe('the final reply', () => {
  it('does not repeat the vendor status after the vendor ended the work', () => {
    const text = shown(finalReply(at('succeeded')));
    expect(text).toContain('Vendor job `attempt-1`');
    expect(text).not.toMatch(/last status|\bstarted\b/i);
  });

  it('says the last status once when opsbot stopped following unfinished work', () => {
    const text = finalReply(
      request({
        state: 'cancelled',
        cancelledBy: 'U0APPROVE1',
        outcome: 'opsbot stopped following it; ece cannot cancel this work, so it may go on',
        progress: running({ detail: 'step `rolling-restart` in progress' }),
      }),
    ).text;
    expect(text.match(/rebooting/g)).toHaveLength(1);
    expect(text).toContain('Last status from ece: *rebooting* · step `rolling-restart` in progress');
  });
});

describe('the retry line', () => {
  const retrying = `Retrying (attempt 3 of 6): ECE is unavailable or busy: ${HOSTILE} (HTTP 503)`;

  it('shows on a running root, escaped, under its state line', () => {
    const root = shown(rootMessage({ ...at('running'), retrying }, '/ops'));
    expect(root).toContain(
      `*Running* · approved by <@U0APPROVE1> · rebooting\\n:repeat: Retrying (attempt 3 of 6): ECE is unavailable or busy: &lt;!channel&gt; &lt;https://evil.example|click here&gt; &amp; more (HTTP 503)`,
    );
    expect(root).not.toContain(PING);
  });

  it('is clipped, never cutting an escape in half', () => {
    const root = shown(rootMessage({ ...at('running'), retrying: `${retrying} ${'&'.repeat(400)}` }, '/ops'));
    const line = /:repeat: [^"]*/.exec(root)![0];
    expect(line.length).toBeLessThanOrEqual(300);
    expect(line).toMatch(/(&amp;)+…$/);
  });

  it('is gone once a call succeeded, and never shows on an ended root', () => {
    expect(shown(rootMessage({ ...at('running'), retrying: '' }, '/ops'))).not.toContain('Retrying');
    for (const state of Object.keys(ENDED) as RequestState[])
      expect(shown(rootMessage({ ...at(state), retrying }, '/ops'))).not.toContain('Retrying');
  });
});

describe('vendor and user text', () => {
  const hostile = request({
    state: 'failed',
    approver: 'U0APPROVE1',
    outcome: `ECE refused the restart: ${HOSTILE}`,
    summary: {
      fields: [{ label: 'Groups', value: `R&D,${PING}` }],
      warnings: [`${DISGUISED} is busy`],
    },
    progress: running({
      outcome: 'failed',
      vendorJobId: '<@U0BOSS>',
      status: PING,
      detail: HOSTILE,
      notes: [HOSTILE],
      result: [HOSTILE, ['ended ', { at: CREATED }, ` ${PING}`]],
    }),
  });

  function expectEscaped(text: string): void {
    expect(text).not.toContain(PING);
    expect(text).not.toContain('<https://evil');
    expect(text).not.toContain('<@U0BOSS>');
    expect(text).toContain('&lt;!channel&gt;');
  }

  it('is escaped in the root, its fallback text and the approval confirm dialog', () => {
    expectEscaped(shown(rootMessage(hostile, '/ops')));
    expectEscaped(shown(rootMessage({ ...hostile, state: 'pending', highRisk: true }, '/ops')));
    expectEscaped(shown(rootMessage({ ...hostile, state: 'running' }, '/ops')));
    expect(shown(rootMessage(hostile, '/ops'))).toContain('R&amp;D');
  });

  it('is escaped in progress replies, the final reply and the failure broadcast', () => {
    expectEscaped(shown(progressReply(hostile, hostile.progress!, true)));
    expectEscaped(shown(progressReply(hostile, hostile.progress!, false)));
    expectEscaped(shown(finalReply(hostile)));
    expectEscaped(failureBroadcastText(hostile));
  });

  it('is escaped in dry runs and read answers, and their times become date tokens', () => {
    const dryRun = dryRunMessage('ece.resource.restart', 'ece/prod', {
      call: `POST https://ece/x?a=1&b=${PING}`,
      currentState: [HOSTILE, ['last plan ended ', { at: CREATED }]],
    });
    expectEscaped(shown(dryRun));
    expect(dryRun.text).toContain(`last plan ended ${slackDate(CREATED)}`);
    const read = readAnswerMessage({ title: `refreshes ${PING}`, lines: [HOSTILE], footer: DISGUISED });
    expectEscaped(shown(read));
  });
});

describe('times', () => {
  it('show the expiry with a date token every reader sees in their own time zone', () => {
    const root = shown(rootMessage(at('pending'), '/ops'));
    expect(root).toContain(`expires ${slackDate(CREATED + 15 * 60_000)}`);
    expect(root).toContain('{date_short_pretty} {time}|2025-05-01 10:15 UTC>');
  });
});
