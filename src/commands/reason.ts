import { z } from 'zod';
import type { ReasonPolicy } from '../policy/model.js';
import { escapeMrkdwn, excerpt } from '../slack/mrkdwn.js';

/**
 * A reason, wherever one is given (`--reason` on a request or a cancel, the Reject and Cancel
 * modals): how long it may be, and what policy asks of it. Reasons are plain text, stored as
 * written and escaped where they are shown.
 */

/** Longest reason, in characters: a sentence or two and a ticket id, short enough for the root message. */
export const REASON_MAX_CHARS = 500;

/** A typed reason, trimmed; an over-long one is refused, quoting its start. */
export const reasonSchema = z
  .string()
  .transform((text) => text.trim())
  .refine((text) => text !== '', '--reason needs some text: --reason "<text>"')
  .refine((text) => Array.from(text).length <= REASON_MAX_CHARS, {
    error: (issue) => reasonTooLong(String(issue.input).trim()),
  });

/** Why a reason of this length is refused (the modal says it too). */
export function reasonTooLong(reason: string): string {
  const length = Array.from(reason).length;
  return `a reason is at most ${REASON_MAX_CHARS} characters; this one has ${length}: "${excerpt(reason)}"`;
}

/**
 * What the action's policy says of a request's reason: nothing when it is satisfied, otherwise why
 * not, with an example made by `usage` (the command, given the example's `--reason "…"` text).
 * A pattern implies a reason: with one set, a request without a reason does not match it.
 */
export function reasonRefusal(
  policy: ReasonPolicy,
  reason: string | undefined,
  subject: string,
  usage: (reasonExample: string) => string,
): string | undefined {
  const pattern = policy.pattern === undefined ? undefined : new RegExp(policy.pattern);
  const satisfied =
    reason === undefined ? !policy.required && !pattern : pattern === undefined || pattern.test(reason);
  if (satisfied) return undefined;
  const example = `e.g. \`${usage(`"${escapeMrkdwn((pattern && sampleReason(pattern)) ?? 'why it is needed')}"`)}\``;
  const matching =
    policy.pattern === undefined ? '' : ` matching \`${excerpt(policy.pattern.replace(/`/g, "'"), 80)}\``;
  if (reason === undefined) return `${subject} needs a reason${matching}: add --reason "…", ${example}`;
  return `${subject} needs a reason${matching}; "${excerpt(reason)}" does not match it, ${example}`;
}

/**
 * A reason the pattern accepts, for the example: its literal text with the usual classes filled in
 * (`^OPS-[0-9]+` → `OPS-123 why it is needed`), kept only if the pattern does accept it.
 */
function sampleReason(pattern: RegExp): string | undefined {
  const core = pattern.source
    .replace(/^\^|\$$/g, '')
    .replace(/\\d\+|\[0-9\]\+|\\d\{\d+(,\d*)?\}|\[0-9\]\{\d+(,\d*)?\}/g, '123')
    .replace(/\\d|\[0-9\]/g, '1')
    .replace(/\[A-Z\]\+|\[A-Z\]\{\d+(,\d*)?\}/g, 'OPS')
    .replace(/\\s\+|\\s/g, ' ')
    .replace(/\\([.\-#/:])/g, '$1');
  return [`${core} why it is needed`, core].find((candidate) => pattern.test(candidate));
}
