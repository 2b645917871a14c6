import type { App, ViewSubmitAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { RequestLifecycle } from '../requests/lifecycle.js';
import { fieldError } from '../slack/views/modal.js';
import { REASON_BLOCK, REASON_MODAL, type ReasonKind, readReasonModal } from '../slack/views/reason-modal.js';
import { type Decide, decideClick, decidedInTime } from './click-decision.js';
import { REASON_MAX_CHARS, reasonTooLong } from './reason.js';

/**
 * A submitted Reject or Cancel modal (reason-buttons.ts opened it) decides, with the reason typed,
 * for the request and the message its private_metadata names: checked and recorded exactly as a
 * click on that message would be (click-decision.ts). A refusal (already approved, not an
 * approver, expired, no reason given…) is answered with `response_action: errors` on the reason's
 * block, so the person reads it in the modal they are looking at; a decision made closes it.
 */
export function registerReasonSubmissions(
  app: App,
  deps: { lifecycle: RequestLifecycle; log: Logger },
): void {
  const decide: Record<ReasonKind, (reason: string) => Decide> = {
    reject: (reason) => (id, user, origin) => deps.lifecycle.reject(id, user, origin, reason),
    cancel: (reason) => (id, user, origin) => deps.lifecycle.withdraw(id, user, origin, reason),
  };
  for (const kind of Object.keys(decide) as ReasonKind[]) {
    app.view<ViewSubmitAction>(REASON_MODAL[kind], async ({ ack, body, view, client }) => {
      const user = body.user.id;
      const errorsOn = (mrkdwn: string) => ({
        response_action: 'errors' as const,
        errors: { [REASON_BLOCK]: fieldError(mrkdwn, user) },
      });
      const submitted = readReasonModal(view);
      if (!submitted) {
        deps.log.warn({ user }, 'refused a reason form that names no request');
        await ack(errorsOn(NO_REQUEST));
        return;
      }
      if (Array.from(submitted.reason).length > REASON_MAX_CHARS) {
        await ack(errorsOn(`${reasonTooLong(submitted.reason)}. Nothing was changed.`));
        return;
      }
      const { requestId, origin } = submitted.subject;
      const deciding = decideClick(deps.log, decide[kind](submitted.reason), requestId, user, origin);
      const first = await decidedInTime(deciding);
      if (first !== 'slow') {
        await ack(first.ok ? undefined : errorsOn(first.reason));
        return;
      }
      // Redis was slow: the modal closes now, and a refusal that comes after is said privately.
      await ack();
      const decision = await deciding;
      if (!decision.ok) await tellLater(client, origin.channel, user, decision.reason, deps.log);
    });
  }
}

const NO_REQUEST = 'this form does not name an opsbot request. Nothing was changed.';

async function tellLater(
  client: WebClient,
  channel: string,
  user: string,
  reason: string,
  log: Logger,
): Promise<void> {
  await client.chat
    .postEphemeral({ channel, user, text: `:warning: ${reason}` })
    .catch((error: Error) =>
      log.warn({ err: error.message, user }, 'could not tell the refusal of a reason form'),
    );
}
