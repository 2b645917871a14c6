import type { Instant } from './types.js';

/**
 * A timestamp a vendor sent (ISO 8601 and the like), as an `Instant` that Slack shows in each
 * reader's own time zone; text that is not a date is kept as the vendor wrote it, shortened.
 */
export function instantOf(text: string): Instant | string {
  const at = Date.parse(text);
  return Number.isNaN(at) ? text.slice(0, 40) : { at };
}
