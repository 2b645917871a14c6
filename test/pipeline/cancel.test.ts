import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { type CckmSimulator, SIM_DOMAINS, startCckmSimulator } from '../../src/vendors/cckm/simulator.js';
import { APPROVER_GROUP, type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * `/ops cancel` on an action that is already approved: before anything reached the vendor it just
 * ends; while running, the vendor is asked to cancel where it can (CCKM), otherwise opsbot stops
 * following it and says the vendor's work may go on (ArcGIS). Only the requester or an approver
 * may do it.
 */

let arcgis: ArcgisSimulator;
let cckm: CckmSimulator;
let bot: Harness;

beforeAll(async () => {
  [arcgis, cckm] = await Promise.all([startArcgisSimulator(), startCckmSimulator({ domainStepMs: 400 })]);
});
afterAll(async () => {
  await Promise.all([arcgis.close(), cckm.close()]);
});
afterEach(async () => {
  await bot?.stop();
});

async function startBot(actions?: Record<string, Record<string, unknown>>) {
  bot = await startHarness({
    env: { ARCGIS_PASSWORD: arcgis.password, CCKM_PASSWORD: cckm.credentials.password },
    targets: {
      arcgis: { prod: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } } },
      cckm: {
        prod: { url: cckm.url, username: cckm.credentials.username, password: { env: 'CCKM_PASSWORD' } },
      },
    },
    // Slow polls: the cancel must not wait for the next one (the sleeping job is brought forward).
    actions: {
      'arcgis.deployment.refresh': { pollInterval: '20s', firstPollDelay: '20ms' },
      'cckm.dsm.refresh': { pollInterval: '20s', firstPollDelay: '20ms' },
      ...actions,
    },
  });
}

async function requestAndApprove(text: string) {
  await bot.command(USERS.requester, text);
  const requestId = await bot.nextRequestId();
  await bot.click(USERS.approver, 'approve', requestId);
  return requestId;
}

const lastEphemeral = (user: string) => textOf(bot.ephemerals(user).at(-1));

async function ended(requestId: string) {
  await waitFor(async () => (await bot.opsbot.store.get(requestId))?.phase === 'done', 'the action to end');
  await waitFor(
    () => bot.thread(requestId).some((m) => JSON.stringify(m.metadata ?? {}).includes('"final"')),
    'the final reply',
  );
  return (await bot.opsbot.store.get(requestId))!;
}

describe('/ops cancel of an approved action', () => {
  it('stops following a running ArcGIS refresh (no vendor cancel), saying the work may go on and why', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 2, EXECUTING: 50 } },
    });
    await startBot();
    const id = await requestAndApprove(`arcgis refresh-deployment ${deployment.deploymentId}`);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.phase === 'polling', 'polling');

    await bot.command(USERS.outsider, `cancel ${id}`);
    await waitFor(() => bot.ephemerals(USERS.outsider).length === 1, 'the refusal');
    expect(lastEphemeral(USERS.outsider)).toContain('only the requester or an approver');
    expect((await bot.opsbot.store.get(id))?.cancelRequestedBy).toBeUndefined();

    await bot.command(USERS.requester, `cancel ${id} --reason "wrong deployment"`);
    const done = await ended(id);
    expect(done.state).toBe('cancelled');
    expect(done.cancelledBy).toBe(USERS.requester);
    expect(done.decisionReason).toBe('wrong deployment');
    expect(done.outcome).toContain('may go on');
    expect(lastEphemeral(USERS.requester)).toContain(`Asked to cancel \`${id}\``);
    const thread = bot.thread(id).map(textOf).join('\n');
    expect(thread).toContain('asked to cancel (“wrong deployment”)');
    await waitFor(() => textOf(bot.root(id)).includes('Cancelled'), 'the root to say cancelled');
    expect(textOf(bot.root(id))).toContain('“wrong deployment”');
    const timeline = await bot.opsbot.store.timeline(id);
    expect(timeline.some((e) => e.text === 'asked to cancel: wrong deployment')).toBe(true);
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);

    await bot.command(USERS.requester, `cancel ${id}`);
    await waitFor(() => bot.ephemerals(USERS.requester).length === 2, 'the second answer');
    expect(lastEphemeral(USERS.requester)).toContain('already');
  });

  it('asks CipherTrust to cancel a running refresh, once, and reports the vendor end as cancelled', async () => {
    await startBot({ 'cckm.dsm.refresh': { pollInterval: '100ms', firstPollDelay: '20ms' } });
    const [domain] = SIM_DOMAINS;
    const id = await requestAndApprove(`cckm refresh ${domain!.id}`);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.phase === 'polling', 'polling');

    await bot.command(USERS.approver, `cancel ${id}`);
    const done = await ended(id);
    expect(done.state).toBe('cancelled');
    expect(done.cancelledBy).toBe(USERS.approver);
    expect(done.vendorCancel).toBe('sent');
    const thread = bot.thread(id).map(textOf).join('\n');
    expect(thread).toContain('Asked cckm to cancel');
    const timeline = await bot.opsbot.store.timeline(id);
    expect(timeline.filter((e) => e.kind === 'vendor-cancel')).toHaveLength(1);
  });

  it('lets only an approver cancel a running action when policy says cancelInFlight: approvers', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 2, EXECUTING: 50 } },
    });
    await startBot({
      'arcgis.deployment.refresh': {
        pollInterval: '20s',
        firstPollDelay: '20ms',
        cancelInFlight: 'approvers',
        approvers: { users: [USERS.approver], groups: [APPROVER_GROUP] },
      },
    });
    const id = await requestAndApprove(`arcgis refresh-deployment ${deployment.deploymentId}`);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.phase === 'polling', 'polling');

    await bot.command(USERS.requester, `cancel ${id}`);
    await waitFor(() => bot.ephemerals(USERS.requester).length === 1, 'the refusal');
    expect(lastEphemeral(USERS.requester)).toContain('only be cancelled by one of its approvers');
    expect((await bot.opsbot.store.get(id))?.cancelRequestedBy).toBeUndefined();

    await bot.command(USERS.groupApprover, `cancel ${id}`);
    const done = await ended(id);
    expect(done.state).toBe('cancelled');
    expect(done.cancelledBy).toBe(USERS.groupApprover);
  });

  it('wakes a run that was busy delivering when the cancel came, instead of waiting for its next poll', async () => {
    // Given a refresh whose first poll (20 ms after the submit) finds it EXECUTING, and a Slack
    // that takes 2 s to take the progress reply that poll queues: the run job is still busy
    // delivering it after its write, and then sleeps for 10 minutes.
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 0, EXECUTING: 50 } },
    });
    await startBot({ 'arcgis.deployment.refresh': { pollInterval: '10m', firstPollDelay: '20ms' } });
    const id = await requestAndApprove(`arcgis refresh-deployment ${deployment.deploymentId}`);
    await waitFor(() => bot.thread(id).length === 1, 'the submitted reply');
    bot.slack.fail({ method: 'chat.postMessage', delayMs: 2_000 });
    await waitFor(
      async () => (await bot.opsbot.store.get(id))?.reported === 2,
      'the EXECUTING poll recorded',
    );

    // When the requester cancels while that reply is on its way.
    await bot.command(USERS.requester, `cancel ${id}`);

    // Then the run is woken as soon as it sleeps: it ends now, not after the next poll.
    const done = await ended(id);
    expect(done.state).toBe('cancelled');
    expect(bot.thread(id).map(textOf).join('\n')).toContain('EXECUTING');
  });

  it('ends a request waiting for a busy resource without calling the vendor', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 50 } },
    });
    await startBot({ 'arcgis.deployment.refresh': { pollInterval: '50ms', firstPollDelay: '20ms' } });
    const first = await requestAndApprove(`arcgis refresh-deployment ${deployment.deploymentId}`);
    await waitFor(() => arcgis.counters.refreshCalls[deployment.deploymentId] === 1, 'the first refresh');
    const second = await requestAndApprove(`arcgis refresh-deployment ${deployment.deploymentId}`);
    await waitFor(() => bot.thread(second).some((m) => m.text.includes('Waiting')), 'a waiting note');

    await bot.command(USERS.requester, `cancel ${second}`);
    const done = await ended(second);
    expect(done.state).toBe('cancelled');
    expect(done.outcome).toContain('before anything was sent');
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);
    expect((await bot.opsbot.store.get(first))?.state).toBe('running');
  });
});
