import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { arcgisProd, type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * Socket Mode end to end: opsbot configured with an app-level token and no signing secret opens
 * its connection with `apps.connections.open`, takes slash commands and clicks as envelopes on
 * a real WebSocket (the fake Slack's stand-in for Slack's endpoint), acks each on the socket,
 * and runs the request exactly as in HTTP mode.
 */

let arcgis: ArcgisSimulator;
let bot: Harness;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
});
afterAll(async () => {
  await arcgis.close();
});
afterEach(async () => {
  await bot?.stop();
});

describe('Socket Mode', () => {
  it('connects with the app-level token and answers /ops help through the socket', async () => {
    bot = await startHarness({ ...arcgisProd(arcgis), socketMode: true });
    const opened = bot.slack.calls.filter((call) => call.method === 'apps.connections.open');
    expect(opened.map((call) => call.ok)).toEqual([true]);
    expect(bot.slack.socketMode.connections).toBe(1);

    const sent = await bot.command(USERS.requester, 'help');
    expect(sent.status).toBe(200);
    await waitFor(() => bot.ephemerals(USERS.requester).length > 0, 'the help answer');
    expect(textOf(bot.ephemerals(USERS.requester)[0])).toContain('arcgis refresh-deployment');

    // Nothing is served over HTTP for Slack: there is no signing secret to check requests with.
    const events = await request(`${bot.opsbot.url}/slack/events`, { method: 'POST', body: '' });
    expect(events.statusCode).toBe(404);
    await events.body.dump();
  });

  it('runs a request from the slash command to Succeeded, with the approval click on the socket', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
    });
    bot = await startHarness({ ...arcgisProd(arcgis), socketMode: true });

    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();
    expect(textOf(bot.root(requestId))).toContain('Waiting for approval');
    expect(await bot.click(USERS.approver, 'approve', requestId)).toBe(200);

    await waitFor(() => textOf(bot.root(requestId)).includes('Succeeded'), 'the root to show success');
    expect(bot.thread(requestId).at(-1)?.text).toContain('Succeeded');
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);
  });

  it('reconnects when Slack asks it to, and answers the next command on the new connection', async () => {
    bot = await startHarness({ ...arcgisProd(arcgis), socketMode: true });
    bot.slack.socketMode.disconnect();
    await waitFor(() => bot.slack.socketMode.greeted === 2, 'a second connection', 30_000);
    await waitFor(() => bot.slack.socketMode.connections === 1, 'the first connection to close');

    await bot.command(USERS.requester, 'help');
    await waitFor(() => bot.ephemerals(USERS.requester).length > 0, 'the help answer');
    expect(bot.slack.calls.filter((call) => call.method === 'apps.connections.open')).toHaveLength(2);
  }, 45_000);
});
