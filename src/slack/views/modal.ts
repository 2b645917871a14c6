import type { KnownBlock, ModalView, PlainTextElement } from '@slack/types';

/**
 * The parts every modal opsbot opens is made of (the reason prompts now; the request form and the
 * App Home's views later): pure builders, plain data in and Slack's view objects out, held to the
 * limits Slack sets on them (https://docs.slack.dev/reference/views/modal-views), and the readers
 * of what a submission sends back.
 */

/** Slack's longest title, submit and close label. */
const LABEL_MAX = 24;
/** Slack's longest `private_metadata`. */
export const PRIVATE_METADATA_MAX = 3_000;

export interface ModalSpec {
  /** Names the modal in its `view_submission` (Bolt's `app.view`). */
  callbackId: string;
  title: string;
  submit: string;
  /** The button that closes it without submitting; "Back" where "Cancel" would be ambiguous. */
  close: string;
  blocks: KnownBlock[];
  /** A reference for the submission to act on (never the data itself: at most 3,000 characters). */
  privateMetadata: string;
}

export function modal(spec: ModalSpec): ModalView {
  if (spec.privateMetadata.length > PRIVATE_METADATA_MAX) {
    throw new Error(`private_metadata of ${spec.callbackId} is over ${PRIVATE_METADATA_MAX} characters`);
  }
  return {
    type: 'modal',
    callback_id: spec.callbackId,
    title: label(spec.title),
    submit: label(spec.submit),
    close: label(spec.close),
    blocks: spec.blocks,
    private_metadata: spec.privateMetadata,
  };
}

function label(text: string): PlainTextElement {
  const chars = Array.from(text);
  return {
    type: 'plain_text',
    text: chars.length > LABEL_MAX ? `${chars.slice(0, LABEL_MAX - 1).join('')}…` : text,
  };
}

export interface TextInputSpec {
  /** The block's id: a submission's value and its error are keyed by it. */
  blockId: string;
  label: string;
  optional: boolean;
  maxLength: number;
  placeholder?: string | undefined;
  /** A line under the input. */
  hint?: string | undefined;
}

/** A multi-line text input whose element's action id is its block id. */
export function textInput(spec: TextInputSpec): KnownBlock {
  return {
    type: 'input',
    block_id: spec.blockId,
    optional: spec.optional,
    label: { type: 'plain_text', text: spec.label },
    ...(spec.hint ? { hint: { type: 'plain_text', text: spec.hint } } : {}),
    element: {
      type: 'plain_text_input',
      action_id: spec.blockId,
      multiline: true,
      max_length: spec.maxLength,
      ...(spec.placeholder ? { placeholder: { type: 'plain_text', text: spec.placeholder } } : {}),
    },
  };
}

/** What a submission's `view.state.values` holds: element values by block id and action id. */
export type SubmittedValues = Record<
  string,
  Record<string, { value?: string | null } | undefined> | undefined
>;

/** The text typed in a `textInput`; '' when nothing was (Slack sends `null` then). */
export function typedText(values: SubmittedValues, blockId: string): string {
  return values[blockId]?.[blockId]?.value ?? '';
}

/**
 * An answer in opsbot's mrkdwn as the plain text a modal's field error shows: Slack's escapes
 * undone, a person's mention (which plain text cannot render) said as "you" to the viewer and
 * "someone else" otherwise (the message itself names them), and a capital first.
 */
export function fieldError(mrkdwn: string, viewer: string): string {
  const plain = mrkdwn
    .replace(/<@([A-Z0-9]+)>/g, (_mention, user: string) => (user === viewer ? 'you' : 'someone else'))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
  return `${plain.charAt(0).toUpperCase()}${plain.slice(1)}`;
}
