import type { App, BlockButtonAction } from '@slack/bolt';
import type { Logger } from 'pino';
import { OpsError } from '../errors.js';
import type { ClickOrigin, Decision, RequestLifecycle } from '../requests/lifecycle.js';
import { isRequestId } from '../requests/store.js';
import { APPROVE_ACTION, CANCEL_ACTION } from '../slack/blocks.js';

/**
 * Approve and Cancel on the approval message. The decision is one compare-and-set in Redis plus
 * an idempotent enqueue (milliseconds), made before the click is acknowledged, so a web process
 * that dies right after answering Slack has not lost the click; if Redis is slow, the ack goes
 * out anyway after ACK_GUARD_MS, well inside Slack's 3 s. The message itself is updated through
 * the outbox. A click that changes nothing gets an ephemeral explanation.
 */
const ACK_GUARD_MS = 2_000;

export function registerApprovalButtons(app: App, deps: { lifecycle: RequestLifecycle; log: Logger }): void {
  type Decide = (requestId: string, user: string, origin: ClickOrigin) => Promise<Decision>;
  const onClick =
    (decide: Decide) =>
    async ({
      ack,
      body,
      action,
      respond,
    }: {
      ack: () => Promise<void>;
      body: BlockButtonAction;
      action: { value?: string };
      respond: (m: object) => Promise<unknown>;
    }) => {
      const requestId = action.value ?? '';
      const origin = { channel: body.channel?.id ?? '', messageTs: body.message?.ts };
      const deciding = decideClick(deps, decide, requestId, body.user.id, origin);
      const guard = new Promise((resolve) => setTimeout(resolve, ACK_GUARD_MS).unref());
      await Promise.race([deciding, guard]);
      await ack();
      const decision = await deciding;
      const answer = decision.ok ? decision.note : `:warning: ${decision.reason}`;
      if (answer) {
        await respond({ response_type: 'ephemeral', replace_original: false, text: answer }).catch(
          (error: Error) =>
            deps.log.warn({ err: error.message }, 'could not send ephemeral answer to a click'),
        );
      }
    };
  app.action<BlockButtonAction>(
    APPROVE_ACTION,
    onClick((id, user, origin) => deps.lifecycle.approve(id, user, origin)) as never,
  );
  app.action<BlockButtonAction>(
    CANCEL_ACTION,
    onClick((id, user, origin) => deps.lifecycle.withdraw(id, user, origin)) as never,
  );
}

/**
 * Checks the click's payload, then decides. A value that is not a request id is refused without
 * a read (it came from no message of opsbot's); a failure says what failed: a coded opsbot error
 * (e.g. Slack refusing a user-group lookup) speaks for itself, and says nothing was changed;
 * anything else is the store.
 */
async function decideClick(
  deps: { log: Logger },
  decide: (requestId: string, user: string, origin: ClickOrigin) => Promise<Decision>,
  requestId: string,
  user: string,
  origin: ClickOrigin,
): Promise<Decision> {
  if (!isRequestId(requestId)) {
    deps.log.warn({ user, channel: origin.channel }, 'refused a click whose value is not a request id');
    return { ok: false, reason: 'that button does not name an opsbot request. Nothing was changed.' };
  }
  try {
    return await decide(requestId, user, origin);
  } catch (error) {
    deps.log.error({ err: (error as Error).message, requestId }, 'could not record a click');
    const reason =
      error instanceof OpsError && error.code !== 'internal'
        ? error.message
        : // The web role's Redis connection fails fast: say so rather than leave the click unanswered.
          'opsbot could not reach its store (Redis), so nothing was changed. Try again in a moment.';
    return { ok: false, reason };
  }
}
