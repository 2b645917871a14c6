import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../../src/devtools/fake-slack.js';
import { SlackWriteError, SlackWriter } from '../../src/slack/writer.js';

/**
 * The delivery path's Slack client against the fake Slack Web API: what it sends, and how each
 * kind of failure comes back (wait and retry, or give up), never carrying the token.
 */

const TOKEN = 'xoxb-writer-test-0123456789abcdef';
const CHANNEL = 'C0WRITER01';
let slack: FakeSlack;
let writer: SlackWriter;

beforeAll(async () => {
  slack = await startFakeSlack({ botToken: TOKEN });
  writer = new SlackWriter({
    apiUrl: slack.apiUrl,
    token: TOKEN,
    timeoutMs: 2_000,
    scrub: (json) => json.replaceAll('hunter2-secret', '••••'),
  });
});
afterAll(async () => {
  await writer?.close();
  await slack?.close();
});

async function failure(call: Promise<unknown>): Promise<SlackWriteError> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SlackWriteError);
  expect(String((error as Error).message)).not.toContain(TOKEN);
  return error as SlackWriteError;
}

describe('SlackWriter', () => {
  it('posts and updates with the bot token, answering Slack reply, secrets scrubbed from the body', async () => {
    const posted = await writer.call<{ ts: string }>('chat.postMessage', {
      channel: CHANNEL,
      text: 'password is hunter2-secret',
    });
    expect(posted.ts).toMatch(/^\d+\.\d+$/);
    await writer.call('chat.update', { channel: CHANNEL, ts: posted.ts, text: 'updated' });
    const message = slack.messages.find((m) => m.ts === posted.ts);
    expect(message?.text).toBe('updated');
    const first = slack.calls.find((c) => c.method === 'chat.postMessage');
    expect(JSON.stringify(first)).not.toContain('hunter2-secret');
  });

  it('says to wait for Retry-After on a 429', async () => {
    slack.fail({ method: 'chat.postMessage', status: 429, retryAfterSeconds: 3 });
    const error = await failure(writer.call('chat.postMessage', { channel: CHANNEL, text: 'x' }));
    expect(error).toMatchObject({ kind: 'rate-limited', retryAfterMs: 3000 });
  });

  it('says to retry on a 500, a transient Slack error or a dropped connection', async () => {
    slack.fail({ method: 'chat.postMessage', status: 500 });
    expect(await failure(writer.call('chat.postMessage', { channel: CHANNEL, text: 'x' }))).toMatchObject({
      kind: 'transient',
      reason: 'HTTP 500',
    });
    slack.fail({ method: 'chat.postMessage', error: 'fatal_error' });
    expect(await failure(writer.call('chat.postMessage', { channel: CHANNEL, text: 'x' }))).toMatchObject({
      kind: 'transient',
      reason: 'fatal_error',
    });
    slack.fail({ method: 'chat.postMessage', drop: 'before' });
    expect(await failure(writer.call('chat.postMessage', { channel: CHANNEL, text: 'x' }))).toMatchObject({
      kind: 'transient',
      reason: 'network error',
    });
  });

  it('says to give up on an error Slack means for good', async () => {
    slack.fail({ method: 'chat.postMessage', error: 'not_in_channel' });
    const error = await failure(writer.call('chat.postMessage', { channel: CHANNEL, text: 'x' }));
    expect(error).toMatchObject({ kind: 'permanent', reason: 'not_in_channel' });
  });
});
