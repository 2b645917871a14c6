import type { ModalView } from '@slack/types';
import { z } from 'zod';
import type { ClickOrigin } from '../../requests/lifecycle.js';
import { escapeMrkdwn } from '../mrkdwn.js';
import { modal, type SubmittedValues, textInput, typedText } from './modal.js';

/**
 * The modals Reject and Cancel open to ask why. The request is named by reference only: its id
 * and where the click came from (channel and message), kept in `private_metadata`, so that the
 * submission is checked exactly as a click on that message would be.
 */

export type ReasonKind = 'reject' | 'cancel';

/** The `callback_id` of each, which its `view_submission` carries. */
export const REASON_MODAL: Record<ReasonKind, string> = {
  reject: 'ops_reject_reason',
  cancel: 'ops_cancel_reason',
};

/** The reason input's block (and action) id: its value, and any error shown under it. */
export const REASON_BLOCK = 'reason';

/** What a reason modal is about: the request, and the message and channel it was clicked on. */
export interface ReasonModalSubject {
  requestId: string;
  origin: ClickOrigin;
}

const WORDING: Record<ReasonKind, { title: string; submit: string; intro: string; label: string }> = {
  reject: {
    title: 'Reject request',
    submit: 'Reject',
    intro: 'Reject `{id}`? It ends the request: nothing is run.',
    label: 'Why are you rejecting it?',
  },
  cancel: {
    title: 'Cancel request',
    submit: 'Cancel request',
    intro: 'Cancel `{id}`? It is withdrawn before it is approved: nothing is run.',
    label: 'Why are you cancelling it?',
  },
};

/** A reason is required to reject, optional to cancel. */
export function reasonModal(kind: ReasonKind, subject: ReasonModalSubject, maxLength: number): ModalView {
  const wording = WORDING[kind];
  return modal({
    callbackId: REASON_MODAL[kind],
    title: wording.title,
    submit: wording.submit,
    close: 'Back',
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: wording.intro.replace('{id}', escapeMrkdwn(subject.requestId)) },
      },
      textInput({
        blockId: REASON_BLOCK,
        label: wording.label,
        optional: kind === 'cancel',
        maxLength,
        placeholder: 'e.g. OPS-123: wrong deployment',
        hint: 'Shown on the request and in its thread, and kept in the audit trail.',
      }),
    ],
    privateMetadata: JSON.stringify(subject),
  });
}

const subjectSchema = z.object({
  requestId: z.string(),
  origin: z.object({ channel: z.string(), messageTs: z.string().optional() }),
});

/** The request a submitted reason modal is about, and the reason typed; undefined if it names none. */
export function readReasonModal(view: {
  private_metadata: string;
  state: { values: SubmittedValues };
}): { subject: ReasonModalSubject; reason: string } | undefined {
  let metadata: unknown;
  try {
    metadata = JSON.parse(view.private_metadata);
  } catch {
    return undefined;
  }
  const subject = subjectSchema.safeParse(metadata);
  if (!subject.success) return undefined;
  return { subject: subject.data, reason: typedText(view.state.values, REASON_BLOCK).trim() };
}
