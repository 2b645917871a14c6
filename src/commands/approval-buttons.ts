import type { App, BlockButtonAction } from '@slack/bolt';
import type { Logger } from 'pino';
import { OpsError } from '../errors.js';
import type { RequestLifecycle } from '../requests/lifecycle.js';
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
  const onClick =
    (decide: (requestId: string, user: string) => ReturnType<RequestLifecycle['approve']>) =>
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
      const deciding = decide(requestId, body.user.id).catch((error: Error) => {
        // A coded error already says what failed (e.g. a Slack group lookup); anything else here is
        // the web role's Redis connection failing fast: say so rather than leave the click unanswered.
        deps.log.error({ err: error.message, requestId }, 'could not record a click');
        return {
          ok: false as const,
          reason:
            error instanceof OpsError
              ? error.message
              : `opsbot could not reach its store (Redis), so nothing was changed. Try again in a moment.`,
        };
      });
      const guard = new Promise((resolve) => setTimeout(resolve, ACK_GUARD_MS).unref());
      await Promise.race([deciding, guard]);
      await ack();
      const decision = await deciding;
      if (!decision.ok) {
        await respond({
          response_type: 'ephemeral',
          replace_original: false,
          text: `:warning: ${decision.reason}`,
        }).catch((error: Error) =>
          deps.log.warn({ err: error.message }, 'could not send ephemeral answer to a click'),
        );
      }
    };
  app.action<BlockButtonAction>(
    APPROVE_ACTION,
    onClick((id, user) => deps.lifecycle.approve(id, user)) as never,
  );
  app.action<BlockButtonAction>(
    CANCEL_ACTION,
    onClick((id, user) => deps.lifecycle.withdraw(id, user)) as never,
  );
}
