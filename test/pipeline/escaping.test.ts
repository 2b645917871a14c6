import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeSlackMessage } from '../../src/devtools/fake-slack.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { arcgisProd, type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * Vendor and user text never acts as Slack markup. Whatever a vendor answers or a person types is
 * shown as written: `<!channel>` must not ping the channel, `<https://…|label>` must not become a
 * disguised link, in the blocks or in the `text` fallback (which Slack parses as mrkdwn too), in
 * the thread, in the failure broadcast, or in an ephemeral answer.
 */

const PING = '<!channel>';
const DISGUISED = '<https://evil.example/login|click here>';
const ESCAPED_PING = '&lt;!channel&gt;';
/** A disguised link in one word, as a person could type it for an id. */
const TYPED_LINK = '<https://evil.example/login|id>';

let arcgis: ArcgisSimulator;
let bot: Harness;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
  bot = await startHarness(arcgisProd(arcgis));
});
afterAll(async () => {
  await bot?.stop();
  await arcgis?.close();
});

function expectInert(text: string): void {
  expect(text).not.toContain(PING);
  expect(text).not.toContain('<https://evil');
  expect(text).toContain(ESCAPED_PING);
}

/** The answers `user` gets to one command, once they have come. */
async function answerTo(user: string, text: string): Promise<FakeSlackMessage> {
  const before = bot.ephemerals(user).length;
  await bot.command(user, text);
  await waitFor(() => bot.ephemerals(user).length > before, `an answer to ${text}`);
  return bot.ephemerals(user).at(-1)!;
}

describe('text from a vendor', () => {
  it('is escaped in the root, the thread reply, the channel broadcast and /ops status', async () => {
    const deployment = arcgis.addDeployment();
    // ArcGIS refuses the refresh (HTTP 200, JSON error body), its message full of markup.
    arcgis.inject({
      method: 'POST',
      path: `/deployments/${deployment.deploymentId}/refresh`,
      status: 200,
      body: {
        error: {
          code: 400,
          messageCode: 'DEPLOY_0017',
          message: `Unable to refresh ${PING}`,
          details: [`Sign in again at ${DISGUISED} & retry`],
        },
      },
    });
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const id = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(() => textOf(bot.root(id)).includes('Failed'), 'the root to show the failure');
    await waitFor(() => bot.thread(id).some((reply) => reply.reply_broadcast), 'the failure broadcast');

    const root = bot.root(id)!;
    expectInert(textOf(root));
    expect(textOf(root)).toContain('DEPLOY_0017');
    const broadcast = bot.thread(id).find((reply) => reply.reply_broadcast)!;
    // The broadcast's `text` is what the channel shows (and notifications carry).
    expectInert(broadcast.text);
    expectInert(textOf(broadcast));
    expect(broadcast.text).toContain('&amp; retry');
    for (const reply of bot.thread(id)) expect(textOf(reply)).not.toContain(PING);

    const status = await answerTo(USERS.requester, `status ${id}`);
    expectInert(textOf(status));
  });

  it('is escaped in the result lines of a failed vendor job', async () => {
    const deployment = arcgis.addDeployment({
      script: {
        outcome: 'FAILED',
        polls: { SUBMITTED: 1, EXECUTING: 1 },
        result: { status: 'failed', messages: [`pods crashed ${PING}`, `see ${DISGUISED}`] },
      },
    });
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const id = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(() => bot.thread(id).some((reply) => reply.reply_broadcast), 'the failure broadcast');
    const final = bot.thread(id).find((reply) => reply.reply_broadcast)!;
    expectInert(textOf(final));
    expect(textOf(final)).toContain('message: pods crashed &lt;!channel&gt;');
  });
});

describe('text a person typed', () => {
  it.each([
    ['as typed', PING, `arcgis refresh-deployment ${TYPED_LINK}`],
    [
      'as Slack sends it (escaped)',
      '&lt;!channel&gt;',
      'arcgis refresh-deployment &lt;https://evil.example/login|id&gt;',
    ],
  ])('is echoed escaped in errors, %s', async (_how, command, badArgument) => {
    const unknown = await answerTo(USERS.requester, command);
    expect(unknown.text).toContain(`unknown command "${ESCAPED_PING}"`);
    expectInert(textOf(unknown));

    const bad = await answerTo(USERS.requester, badArgument);
    expect(bad.text).toContain('deployment id "&lt;https://evil.example/login|id&gt;" is not a plain id');
    expect(textOf(bad)).not.toContain('<https://evil');
  });

  it('is echoed as a short excerpt, never whole', async () => {
    const answer = await answerTo(USERS.requester, `help ${'<script>'.repeat(700)}`);
    expect(answer.text).toContain(
      `no vendor "${'&lt;script&gt;'.repeat(4)}&lt;script…" (vendors: arcgis, ece, workspace, cckm)`,
    );
    expect(answer.text.length).toBeLessThan(400);
    expect(textOf(answer)).not.toContain('<script>');
  });
});
