import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import {
  arcgisProd,
  CHANNEL,
  type Harness,
  startHarness,
  textOf,
  USERS,
  waitFor,
} from '../support/harness.js';

/**
 * The whole story over HTTP, as Slack drives it: a signed slash command, the approval message in
 * the channel, a signed Approve click, the vendor job on the ArcGIS simulator, the thread replies
 * and the final root update.
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

async function startBot(extra: Partial<Parameters<typeof startHarness>[0]> = {}) {
  bot = await startHarness({
    ...arcgisProd(arcgis),
    ...extra,
  });
  return bot;
}

describe('arcgis refresh-deployment end to end', () => {
  it('runs from slash command to the final thread message after a colleague approves', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 2 } },
    });
    await startBot();

    const sent = await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    expect(sent.status).toBe(200);
    const requestId = await bot.nextRequestId();
    const root = bot.root(requestId)!;
    expect(textOf(root)).toContain('arcgis.deployment.refresh');
    expect(textOf(root)).toContain(deployment.deploymentId);
    expect(textOf(root)).toContain('Waiting for approval');
    expect(JSON.stringify(root.blocks)).toContain('ops_approve');

    expect(await bot.click(USERS.approver, 'approve', requestId)).toBe(200);

    await waitFor(() => textOf(bot.root(requestId)).includes('Succeeded'), 'the root to show success');
    const thread = bot.thread(requestId);
    const texts = thread.map((m) => m.text);
    expect(texts[0]).toContain('Submitted to arcgis/prod');
    expect(texts.some((t) => t.includes('EXECUTING'))).toBe(true);
    expect(texts.at(-1)).toContain('Succeeded');
    // Every status once, in order, and no buttons left on the root.
    expect(texts.filter((t) => t.includes('Status *EXECUTING*'))).toHaveLength(1);
    expect(JSON.stringify(bot.root(requestId)!.blocks)).not.toContain('ops_approve');
    expect(textOf(bot.root(requestId))).toContain(`<@${USERS.approver}>`);
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);

    const stored = await bot.opsbot.store.get(requestId);
    expect(stored?.state).toBe('succeeded');
    expect(stored?.progress?.vendorJobId).toMatch(/^j/);
  });

  it('answers bad input ephemerally with the usage, and never calls the vendor', async () => {
    await startBot();
    const before = arcgis.requests.length;
    await bot.command(USERS.requester, 'arcgis refresh-deployment ../../system/x');
    await bot.command(USERS.requester, 'arcgis reboot-everything');
    await bot.command(USERS.requester, 'arcgis refresh-deployment');
    await waitFor(() => bot.ephemerals(USERS.requester).length === 3, 'three ephemeral answers');
    const [pathTrick, unknownVerb, missing] = bot.ephemerals(USERS.requester).map((m) => m.text);
    expect(pathTrick).toContain('is not a plain id');
    expect(pathTrick).toContain('Usage: `/ops arcgis refresh-deployment <deployment-id>');
    expect(unknownVerb).toContain('arcgis has no action "reboot-everything"');
    expect(missing).toContain('<deployment-id> is missing');
    expect(arcgis.requests.length).toBe(before);
    expect(bot.slack.messages.filter((m) => m.channel === CHANNEL && !m.ephemeralTo)).toHaveLength(0);
  });

  it('refuses an approval by someone who may not approve, and changes nothing', async () => {
    const deployment = arcgis.addDeployment();
    await startBot();
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();
    await bot.click(USERS.outsider, 'approve', requestId);
    await waitFor(() => bot.ephemerals(USERS.outsider).length === 1, 'an explanation to the outsider');
    expect(bot.ephemerals(USERS.outsider)[0]!.text).toContain(
      'not allowed to approve it: you are in none of the roles it needs',
    );
    expect((await bot.opsbot.store.get(requestId))?.state).toBe('pending');
    expect(arcgis.counters.refreshCalls[deployment.deploymentId] ?? 0).toBe(0);
  });

  it('accepts an approver who is in an approvers user group', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
    });
    await startBot();
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();
    await bot.click(USERS.groupApprover, 'approve', requestId);
    await waitFor(async () => (await bot.opsbot.store.get(requestId))?.state === 'succeeded', 'success');
  });

  it('refuses self-approval of a high-risk request (four eyes), then takes a colleague', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
    });
    await startBot({ actions: { 'arcgis.deployment.refresh': { highRisk: true } } });
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();
    expect(JSON.stringify(bot.root(requestId)!.blocks)).toContain('"confirm"');
    await bot.click(USERS.requester, 'approve', requestId);
    await waitFor(() => bot.ephemerals(USERS.requester).length === 1, 'a refusal');
    expect(bot.ephemerals(USERS.requester)[0]!.text).toContain(
      'someone other than the requester must approve',
    );
    expect((await bot.opsbot.store.get(requestId))?.state).toBe('pending');
    await bot.click(USERS.approver, 'approve', requestId);
    await waitFor(async () => (await bot.opsbot.store.get(requestId))?.state === 'succeeded', 'success');
  });

  it('starts the vendor job once however many times Approve is clicked, by however many people', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
    });
    await startBot();
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();
    await Promise.all([
      bot.click(USERS.approver, 'approve', requestId),
      bot.click(USERS.approver, 'approve', requestId),
      bot.click(USERS.requester, 'approve', requestId),
      bot.click(USERS.groupApprover, 'approve', requestId),
    ]);
    await waitFor(async () => (await bot.opsbot.store.get(requestId))?.state === 'succeeded', 'success');
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);
    const already = [USERS.approver, USERS.requester, USERS.groupApprover].flatMap((u) => bot.ephemerals(u));
    expect(already).toHaveLength(3);
    for (const message of already) expect(message.text).toContain('already approved');
    expect(bot.thread(requestId).filter((m) => m.text.includes('Submitted'))).toHaveLength(1);
  });

  it('expires a request nobody approves, and a late click changes nothing', async () => {
    const deployment = arcgis.addDeployment();
    await startBot({ approvalTimeout: '300ms' });
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();
    await waitFor(() => textOf(bot.root(requestId)).includes('Expired'), 'the message to say expired');
    expect(JSON.stringify(bot.root(requestId)!.blocks)).not.toContain('ops_approve');
    await bot.click(USERS.approver, 'approve', requestId);
    await waitFor(() => bot.ephemerals(USERS.approver).length === 1, 'an answer to the late click');
    expect(bot.ephemerals(USERS.approver)[0]!.text).toContain('expired');
    expect((await bot.opsbot.store.get(requestId))?.state).toBe('expired');
    expect(arcgis.counters.refreshCalls[deployment.deploymentId] ?? 0).toBe(0);
  });

  it('reports a vendor job failure in the thread and in the channel, with the vendor message', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'FAILED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
    });
    await startBot();
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', requestId);
    await waitFor(() => textOf(bot.root(requestId)).includes('Failed'), 'the root to show failure');
    const last = bot.thread(requestId).at(-1)!;
    expect(last.reply_broadcast).toBe(true);
    expect(textOf(last)).toContain('Failed');
    expect((await bot.opsbot.store.get(requestId))?.state).toBe('failed');
  });

  it('renews an expired token in the middle of polling and finishes', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 2, EXECUTING: 25 } },
    });
    // The simulator's counters span the file's tests: wait for this test's own job reads.
    const readsBefore = arcgis.counters.jobReads;
    await startBot();
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', requestId);
    await waitFor(
      async () =>
        (await bot.opsbot.store.get(requestId))?.state === 'running' &&
        arcgis.counters.jobReads > readsBefore,
      'polling',
    );
    const minted = arcgis.counters.tokensMinted;
    arcgis.expireTokens();
    await waitFor(
      async () => (await bot.opsbot.store.get(requestId))?.state === 'succeeded',
      'success after renewal',
    );
    expect(arcgis.counters.tokensMinted).toBe(minted + 1);
    expect(arcgis.counters.tokenRejections).toBeGreaterThanOrEqual(1);
  });

  it('ends "timed out waiting" at the deadline, the closing reply giving the last known status', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 100_000 } },
    });
    await startBot({ actions: { 'arcgis.deployment.refresh': { deadline: '400ms' } } });
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', requestId);
    await waitFor(
      () => textOf(bot.root(requestId)).includes('Timed out waiting'),
      'the root to show the timeout',
    );
    expect(textOf(bot.thread(requestId).at(-1))).toContain('Last status from arcgis: *EXECUTING*');
    expect((await bot.opsbot.store.get(requestId))?.state).toBe('timed_out');
  });

  it('refuses requests with a forged signature', async () => {
    await startBot();
    const { sendSlashCommand } = await import('../../src/devtools/slack-requests.js');
    const sent = await sendSlashCommand(
      { botUrl: bot.opsbot.url, signingSecret: 'not-the-secret' },
      {
        command: '/ops',
        text: 'help',
        userId: USERS.requester,
        channelId: CHANNEL,
        responseUrl: bot.slack.responseUrl(USERS.requester, CHANNEL),
      },
    );
    expect(sent.status).toBe(401);
    expect(bot.slack.messages).toHaveLength(0);
  });
});
