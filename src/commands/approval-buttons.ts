import type { App, BlockButtonAction } from '@slack/bolt';
import type { Logger } from 'pino';
import type { RequestLifecycle } from '../requests/lifecycle.js';
import { APPROVE_ACTION } from '../slack/blocks.js';
import { decideClick, decidedInTime } from './click-decision.js';

/**
 * Approve on the approval message: decided before the click is acknowledged (click-decision.ts);
 * the message itself is updated through the outbox. A click that changes nothing, or that counts
 * toward a quorum not yet met, gets an ephemeral explanation. Reject and Cancel ask for a reason
 * first (reason-buttons.ts).
 */
export function registerApprovalButtons(app: App, deps: { lifecycle: RequestLifecycle; log: Logger }): void {
  app.action<BlockButtonAction>(APPROVE_ACTION, async ({ ack, body, action, respond }) => {
    const origin = { channel: body.channel?.id ?? '', messageTs: body.message?.ts };
    const deciding = decideClick(
      deps.log,
      (id, user, from) => deps.lifecycle.approve(id, user, from),
      action.value ?? '',
      body.user.id,
      origin,
    );
    await decidedInTime(deciding);
    await ack();
    const decision = await deciding;
    const answer = decision.ok ? decision.note : `:warning: ${decision.reason}`;
    if (answer) {
      await respond({ response_type: 'ephemeral', replace_original: false, text: answer }).catch(
        (error: Error) => deps.log.warn({ err: error.message }, 'could not send ephemeral answer to a click'),
      );
    }
  });
}
