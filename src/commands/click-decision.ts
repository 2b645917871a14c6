import type { Logger } from 'pino';
import { OpsError } from '../errors.js';
import type { ClickOrigin, Decision } from '../requests/lifecycle.js';
import { isRequestId } from '../requests/store.js';

/**
 * Deciding on a click (Approve) or a submitted modal (Reject, Cancel) in the web process that
 * received it. The decision is a compare-and-set in Redis plus an idempotent enqueue (milliseconds),
 * made before Slack is answered, so a web process that dies right after answering has not lost it;
 * if Redis is slow, the answer goes out anyway after ACK_GUARD_MS, well inside Slack's 3 s.
 */

/** Slack gives up on an answer after 3 s; past this, the answer goes first and the decision goes on. */
export const ACK_GUARD_MS = 2_000;

/** The decision, or `slow` once ACK_GUARD_MS has passed without it. */
export async function decidedInTime(deciding: Promise<Decision>): Promise<Decision | 'slow'> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'slow'>((resolve) => {
    timer = setTimeout(() => resolve('slow'), ACK_GUARD_MS);
  });
  try {
    return await Promise.race([deciding, guard]);
  } finally {
    clearTimeout(timer);
  }
}

export type Decide = (requestId: string, user: string, origin: ClickOrigin) => Promise<Decision>;

/**
 * Checks the request id a click or modal names, then decides. A value that is not a request id is
 * refused without a read; a failure says what failed: a coded opsbot error (e.g. Slack refusing a
 * user-group lookup) speaks for itself, and says nothing was changed; anything else is the store.
 */
export async function decideClick(
  log: Logger,
  decide: Decide,
  requestId: string,
  user: string,
  origin: ClickOrigin,
): Promise<Decision> {
  if (!isClickedRequest(requestId, log, { user, channel: origin.channel })) {
    return { ok: false, reason: NOT_A_REQUEST };
  }
  try {
    return await decide(requestId, user, origin);
  } catch (error) {
    log.error({ err: (error as Error).message, requestId }, 'could not record a click');
    const reason =
      error instanceof OpsError && error.code !== 'internal'
        ? error.message
        : // The web role's Redis connection fails fast: say so rather than leave the click unanswered.
          'opsbot could not reach its store (Redis), so nothing was changed. Try again in a moment.';
    return { ok: false, reason };
  }
}

/** The answer to a click or modal that names no opsbot request (a crafted or mangled payload). */
export const NOT_A_REQUEST = 'that button does not name an opsbot request. Nothing was changed.';

/** Whether a click names a request id; one that does not came from no message of opsbot's (logged). */
export function isClickedRequest(
  value: string,
  log: Logger,
  where: { user: string; channel?: string | undefined },
): boolean {
  if (isRequestId(value)) return true;
  log.warn(where, 'refused a click whose value is not a request id');
  return false;
}
