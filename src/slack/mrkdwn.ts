import type { TextLine } from '../vendors/types.js';

/**
 * How opsbot writes Slack mrkdwn. Slack reads `&`, `<` and `>` as markup in every mrkdwn text,
 * the `text` fallback of a message included: a vendor message holding `<!channel>` would ping a
 * whole channel, `<https://evil|click here>` would show a disguised link. The convention:
 *
 * - Plain text: anything a vendor or a person wrote, and the request fields that carry it
 *   (`outcome`, `progress.status/detail/result/notes`, `summary.fields[].value`,
 *   `summary.warnings`, read answers, dry-run lines, timeline texts). It is stored as written and
 *   escaped by the Block Kit builders (`blocks.ts`, `request-views.ts`) when they render it.
 *   Backticks and asterisks in it still format; only `&`, `<` and `>` are markup that can act.
 * - mrkdwn opsbot composes itself (ephemeral answers, `InputError` messages, help) escapes each
 *   piece of user or vendor text it embeds, at the moment it embeds it: `escapeMrkdwn`, or
 *   `excerpt` for input echoed back to the person who typed it.
 * - Mentions, links and dates opsbot itself means (`<@U…>`, `<!subteam^S…>`, permalinks,
 *   `<!date^…>`) are produced by the builders, never stored inside plain-text fields: a time in a
 *   vendor's line is an `Instant` (see `TextLine`), rendered here by `plainLine`.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** Plain text → mrkdwn that shows it exactly as written (Slack's three escapes). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/[&<>]/g, (char) => ESCAPES[char]!);
}

/** Most characters of typed input echoed back in an answer. */
export const EXCERPT_MAX = 40;

/**
 * What a person typed, to quote back in an answer: at most `max` characters (then an ellipsis),
 * control characters shown as `?` (a newline could start a quote block), escaped.
 */
export function excerpt(input: string, max = EXCERPT_MAX): string {
  const chars = Array.from(input.replace(/\p{Cc}/gu, '?'));
  const clipped = chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('');
  return escapeMrkdwn(clipped);
}

/**
 * A moment as Slack's date token: each reader sees it in their own time zone ("today 5:06 PM",
 * "Nov 14, 2025 5:06 PM"); clients that cannot render the token show the UTC fallback.
 */
export function slackDate(ms: number): string {
  const utc = new Date(ms).toISOString();
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${utc.slice(0, 10)} ${utc.slice(11, 16)} UTC>`;
}

/** A line of plain text as mrkdwn: its text escaped, its instants as date tokens. */
export function plainLine(line: TextLine): string {
  if (typeof line === 'string') return escapeMrkdwn(line);
  return line.map((part) => (typeof part === 'string' ? escapeMrkdwn(part) : slackDate(part.at))).join('');
}

/**
 * Shortens mrkdwn to `max` characters without leaving half an escape (`&am`) or half a token
 * (`<!date^17…`) at the cut, which Slack would show as stray characters.
 */
export function clipMrkdwn(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1).replace(/&[a-z]{0,3}$|<[^<>]*$/, '');
  return `${cut}…`;
}
