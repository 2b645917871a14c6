import type { App, BlockButtonAction, RespondFn } from '@slack/bolt';
import { ErrorCode, type WebAPICallError } from '@slack/web-api';
import type { Logger } from 'pino';
import { CANCEL_ACTION, REJECT_ACTION } from '../slack/blocks.js';
import { escapeMrkdwn } from '../slack/mrkdwn.js';
import { type ReasonKind, reasonModal } from '../slack/views/reason-modal.js';
import { isClickedRequest, NOT_A_REQUEST } from './click-decision.js';
import { REASON_MAX_CHARS } from './reason.js';

/**
 * Reject and Cancel on the approval message ask why before anything is decided: the click opens a
 * modal, and its submission decides (reason-submissions.ts). Slack takes a click's trigger_id for
 * one views.open within 3 s of the click, so the web process that received the click opens it at
 * once, after the ack, with nothing read or written before. When Slack will not open it, the
 * clicker is told why, privately, rather than left waiting for a modal that never comes.
 */

const BUTTONS: Record<ReasonKind, string> = { reject: REJECT_ACTION, cancel: CANCEL_ACTION };

export function registerReasonButtons(app: App, deps: { log: Logger }): void {
  for (const kind of Object.keys(BUTTONS) as ReasonKind[]) {
    app.action<BlockButtonAction>(BUTTONS[kind], async ({ ack, body, action, client, respond }) => {
      await ack();
      const requestId = action.value ?? '';
      const user = body.user.id;
      if (!isClickedRequest(requestId, deps.log, { user, channel: body.channel?.id })) {
        await tellClicker(respond, NOT_A_REQUEST, deps.log);
        return;
      }
      const origin = { channel: body.channel?.id ?? '', messageTs: body.message?.ts };
      const view = reasonModal(kind, { requestId, origin }, REASON_MAX_CHARS);
      try {
        await client.views.open({ trigger_id: body.trigger_id, view });
      } catch (error) {
        const slackError = slackErrorOf(error);
        deps.log.warn({ requestId, user, slackError }, `could not open the ${kind} form`);
        await tellClicker(respond, notOpened(kind, slackError), deps.log);
      }
    });
  }
}

/** Slack's error code for a refused call (`expired_trigger_id`…), or what else went wrong. */
function slackErrorOf(error: unknown): string {
  const failure = error as WebAPICallError & { data?: { error?: string } };
  return failure.code === ErrorCode.PlatformError
    ? (failure.data?.error ?? 'unknown_error')
    : (error as Error).message;
}

function notOpened(kind: ReasonKind, slackError: string): string {
  const form = `the ${kind === 'reject' ? 'Reject' : 'Cancel'} form`;
  switch (slackError) {
    case 'expired_trigger_id':
      return `Slack allows 3 seconds to open ${form} after a click, and opsbot was slower this time. Nothing was changed: click again.`;
    case 'exchanged_trigger_id':
      return `${form} for this click was opened already. If you do not see it, click again; nothing was changed.`;
    default:
      return `Slack did not open ${form} (${escapeMrkdwn(slackError)}). Nothing was changed: click again in a moment.`;
  }
}

async function tellClicker(respond: RespondFn, text: string, log: Logger): Promise<void> {
  await respond({ response_type: 'ephemeral', replace_original: false, text: `:warning: ${text}` }).catch(
    (error: Error) => log.warn({ err: error.message }, 'could not send ephemeral answer to a click'),
  );
}
