import type { Logger } from 'pino';
import { request } from 'undici';
import { scrubSecrets } from '../config/secret.js';
import type { OpsRequest } from '../requests/types.js';
import type { SlackMessage } from './blocks.js';

/**
 * Tells the requester something privately through the slash command's response_url (valid for
 * 30 minutes, 5 uses). Best effort: the same fact is always in the request's timeline.
 */
export async function notifyRequester(
  request: Pick<OpsRequest, 'responseUrl'>,
  text: string,
  log: Logger,
): Promise<void> {
  if (!request.responseUrl) return;
  await replyPrivately(request.responseUrl, { text }, log);
}

/**
 * Answers a slash command only its sender sees (help, errors, reads, dry runs), through its
 * response_url. Secrets are scrubbed from the text and blocks. Best effort, logged on failure.
 */
export async function replyPrivately(responseUrl: string, message: SlackMessage, log: Logger): Promise<void> {
  try {
    const response = await request(responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: scrubSecrets(JSON.stringify({ response_type: 'ephemeral', replace_original: false, ...message })),
      signal: AbortSignal.timeout(10_000),
    });
    await response.body.dump();
    if (response.statusCode >= 300) {
      log.warn({ status: response.statusCode }, 'response_url refused an ephemeral message');
    }
  } catch (error) {
    log.warn({ err: (error as Error).message }, 'could not reach response_url');
  }
}
