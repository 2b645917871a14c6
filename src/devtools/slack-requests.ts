import { createHmac } from 'node:crypto';
import { request } from 'undici';

/**
 * Sends requests to opsbot's `/slack/events` exactly as Slack does: form-encoded bodies (slash
 * commands as fields, interactivity as one `payload` JSON field), signed with
 * `v0=hex(HMAC-SHA256(signing secret, "v0:{timestamp}:{raw body}"))`.
 */

export function signSlackBody(
  signingSecret: string,
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
) {
  const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature };
}

export interface SlackPeer {
  /** Base URL of the bot (its `/slack/events` is called). */
  botUrl: string;
  signingSecret: string;
  teamId?: string;
}

export interface SentRequest {
  status: number;
  body: string;
}

/**
 * One request exactly as Slack signed it. Slack's retries resend the same body with retry headers
 * (see `slackRetryHeaders`); `deliver` sends it again byte for byte, signature included.
 */
export interface SignedSlackRequest {
  body: string;
  headers: Record<string, string>;
}

function signed(peer: SlackPeer, body: string, headers: Record<string, string> = {}): SignedSlackRequest {
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      ...signSlackBody(peer.signingSecret, body),
      ...headers,
    },
  };
}

/** Sends a signed request to the bot, with extra headers (e.g. Slack's retry headers) if given. */
export async function deliver(
  peer: SlackPeer,
  signedRequest: SignedSlackRequest,
  extraHeaders: Record<string, string> = {},
): Promise<SentRequest> {
  const response = await request(`${peer.botUrl}/slack/events`, {
    method: 'POST',
    headers: { ...signedRequest.headers, ...extraHeaders },
    body: signedRequest.body,
  });
  return { status: response.statusCode, body: await response.body.text() };
}

/**
 * The headers Slack adds when it delivers a request again: `X-Slack-Retry-Num` (1, 2, 3) and
 * `X-Slack-Retry-Reason` (`http_timeout`, `http_error`, `connection_failed`, …).
 */
export function slackRetryHeaders(retryNum: number, reason = 'http_timeout'): Record<string, string> {
  return { 'x-slack-retry-num': String(retryNum), 'x-slack-retry-reason': reason };
}

export interface SlashCommandInput {
  command: string;
  text: string;
  userId: string;
  userName?: string;
  channelId: string;
  responseUrl: string;
  /** Default: a made-up one, which `views.open` refuses (the fake Slack issues real ones). */
  triggerId?: string;
  /** Extra headers, e.g. a forged signature or Slack's retry headers. */
  headers?: Record<string, string>;
}

export function sendSlashCommand(peer: SlackPeer, input: SlashCommandInput): Promise<SentRequest> {
  return deliver(peer, signSlashCommand(peer, input));
}

/** A slash command signed as Slack sends it, to deliver once or several times. */
export function signSlashCommand(peer: SlackPeer, input: SlashCommandInput): SignedSlackRequest {
  const body = new URLSearchParams(slashCommandFields(input, peer.teamId)).toString();
  return signed(peer, body, input.headers);
}

/** A slash command's fields, as Slack sends them: form fields over HTTP, the payload in Socket Mode. */
export function slashCommandFields(input: SlashCommandInput, teamId = 'T0SANDBOX'): Record<string, string> {
  return {
    token: 'deprecated-verification-token',
    team_id: teamId,
    team_domain: 'sandbox',
    channel_id: input.channelId,
    channel_name: 'ops',
    user_id: input.userId,
    user_name: input.userName ?? input.userId.toLowerCase(),
    command: input.command,
    text: input.text,
    api_app_id: 'A0OPSBOT1',
    is_enterprise_install: 'false',
    response_url: input.responseUrl,
    trigger_id: input.triggerId ?? madeUpTriggerId(),
  };
}

/** A trigger id no Slack issued: enough for a payload that opens no modal. */
function madeUpTriggerId(): string {
  return `${Date.now()}.1.${Math.random().toString(16).slice(2)}`;
}

export interface ButtonClickInput {
  actionId: string;
  value: string;
  userId: string;
  channelId: string;
  messageTs: string;
  responseUrl: string;
  /** Default: a made-up one, which `views.open` refuses (the fake Slack issues real ones). */
  triggerId?: string;
  headers?: Record<string, string>;
}

export function sendButtonClick(peer: SlackPeer, input: ButtonClickInput): Promise<SentRequest> {
  return deliver(peer, signButtonClick(peer, input));
}

/** A block_actions click signed as Slack sends it, to deliver once or several times. */
export function signButtonClick(peer: SlackPeer, input: ButtonClickInput): SignedSlackRequest {
  const payload = JSON.stringify(buttonClickPayload(input, peer.teamId));
  return signed(peer, new URLSearchParams({ payload }).toString(), input.headers);
}

/** A block_actions click, as Slack sends it: one `payload` form field over HTTP, the payload in Socket Mode. */
export function buttonClickPayload(input: ButtonClickInput, teamId = 'T0SANDBOX'): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: {
      id: input.userId,
      username: input.userId.toLowerCase(),
      name: input.userId.toLowerCase(),
      team_id: teamId,
    },
    api_app_id: 'A0OPSBOT1',
    token: 'deprecated-verification-token',
    container: {
      type: 'message',
      message_ts: input.messageTs,
      channel_id: input.channelId,
      is_ephemeral: false,
    },
    trigger_id: input.triggerId ?? madeUpTriggerId(),
    team: { id: teamId, domain: 'sandbox' },
    channel: { id: input.channelId, name: 'ops' },
    message: { type: 'message', ts: input.messageTs, text: '' },
    response_url: input.responseUrl,
    actions: [
      {
        action_id: input.actionId,
        block_id: `approval:${input.value}`,
        text: { type: 'plain_text', text: input.actionId },
        value: input.value,
        type: 'button',
        action_ts: String(Date.now() / 1000),
      },
    ],
  };
}

export interface ViewSubmissionInput {
  userId: string;
  /** The modal as opsbot opened it (`views.open`), with the id Slack gave it. */
  view: { id: string; view: Record<string, unknown> };
  /** What the person typed, by the input block's id; blank or missing means nothing typed. */
  values: Record<string, string | undefined>;
  headers?: Record<string, string>;
}

export function sendViewSubmission(peer: SlackPeer, input: ViewSubmissionInput): Promise<SentRequest> {
  return deliver(peer, signViewSubmission(peer, input));
}

/** A view_submission signed as Slack sends it, to deliver once or several times. */
export function signViewSubmission(peer: SlackPeer, input: ViewSubmissionInput): SignedSlackRequest {
  const payload = JSON.stringify(viewSubmissionPayload(input, peer.teamId));
  return signed(peer, new URLSearchParams({ payload }).toString(), input.headers);
}

/**
 * A view_submission, as Slack sends it (https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload):
 * the whole view back, with `state.values` holding each input block's element by block id and
 * action id (`{ type: 'plain_text_input', value }`, `null` when nothing was typed), and its
 * `private_metadata` and `callback_id` as opsbot set them.
 */
export function viewSubmissionPayload(
  input: ViewSubmissionInput,
  teamId = 'T0SANDBOX',
): Record<string, unknown> {
  const { id, view } = input.view;
  const values: Record<string, Record<string, { type: string; value: string | null }>> = {};
  const blocks = (view.blocks ?? []) as Array<{
    type?: string;
    block_id?: string;
    element?: { type?: string; action_id?: string };
  }>;
  for (const block of blocks) {
    if (block.type !== 'input' || !block.block_id || !block.element?.action_id) continue;
    const typed = input.values[block.block_id];
    values[block.block_id] = {
      [block.element.action_id]: {
        type: block.element.type ?? 'plain_text_input',
        value: typed === undefined || typed === '' ? null : typed,
      },
    };
  }
  return {
    type: 'view_submission',
    team: { id: teamId, domain: 'sandbox' },
    user: {
      id: input.userId,
      username: input.userId.toLowerCase(),
      name: input.userId.toLowerCase(),
      team_id: teamId,
    },
    api_app_id: 'A0OPSBOT1',
    token: 'deprecated-verification-token',
    trigger_id: madeUpTriggerId(),
    view: {
      id,
      team_id: teamId,
      type: 'modal',
      blocks: view.blocks ?? [],
      private_metadata: view.private_metadata ?? '',
      callback_id: view.callback_id ?? '',
      state: { values },
      hash: `${Math.floor(Date.now() / 1000)}.abcdef12`,
      title: view.title,
      clear_on_close: false,
      notify_on_close: false,
      close: view.close ?? null,
      submit: view.submit ?? null,
      previous_view_id: null,
      root_view_id: id,
      app_id: 'A0OPSBOT1',
      external_id: '',
      app_installed_team_id: teamId,
      bot_id: 'B0OPSBOT1',
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}
