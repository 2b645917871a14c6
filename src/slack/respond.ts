import type { Logger } from 'pino';
import { request } from 'undici';
import { scrubSecrets } from '../config/secret.js';
import type { OpsRequest } from '../requests/types.js';

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
  try {
    const answer = await request_(request.responseUrl, scrubSecrets(text));
    if (answer >= 300) log.warn({ status: answer }, 'response_url refused an ephemeral message');
  } catch (error) {
    log.warn({ err: (error as Error).message }, 'could not reach response_url');
  }
}

async function request_(url: string, text: string): Promise<number> {
  const response = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
    signal: AbortSignal.timeout(10_000),
  });
  await response.body.dump();
  return response.statusCode;
}
