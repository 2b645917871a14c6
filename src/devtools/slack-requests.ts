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

async function post(
  peer: SlackPeer,
  body: string,
  headers: Record<string, string> = {},
): Promise<SentRequest> {
  const response = await request(`${peer.botUrl}/slack/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      ...signSlackBody(peer.signingSecret, body),
      ...headers,
    },
    body,
  });
  return { status: response.statusCode, body: await response.body.text() };
}

export interface SlashCommandInput {
  command: string;
  text: string;
  userId: string;
  userName?: string;
  channelId: string;
  responseUrl: string;
  /** Extra headers, e.g. a forged signature or Slack's retry headers. */
  headers?: Record<string, string>;
}

export function sendSlashCommand(peer: SlackPeer, input: SlashCommandInput): Promise<SentRequest> {
  const body = new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: peer.teamId ?? 'T0SANDBOX',
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
    trigger_id: `${Date.now()}.1.${Math.random().toString(16).slice(2)}`,
  }).toString();
  return post(peer, body, input.headers);
}

export interface ButtonClickInput {
  actionId: string;
  value: string;
  userId: string;
  channelId: string;
  messageTs: string;
  responseUrl: string;
  headers?: Record<string, string>;
}

export function sendButtonClick(peer: SlackPeer, input: ButtonClickInput): Promise<SentRequest> {
  const payload = {
    type: 'block_actions',
    user: {
      id: input.userId,
      username: input.userId.toLowerCase(),
      name: input.userId.toLowerCase(),
      team_id: peer.teamId ?? 'T0SANDBOX',
    },
    api_app_id: 'A0OPSBOT1',
    token: 'deprecated-verification-token',
    container: {
      type: 'message',
      message_ts: input.messageTs,
      channel_id: input.channelId,
      is_ephemeral: false,
    },
    trigger_id: `${Date.now()}.1.${Math.random().toString(16).slice(2)}`,
    team: { id: peer.teamId ?? 'T0SANDBOX', domain: 'sandbox' },
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
  return post(peer, new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), input.headers);
}
