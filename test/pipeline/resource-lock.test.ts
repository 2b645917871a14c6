import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createQueues } from '../../src/jobs/queues.js';
import { createRunEnder } from '../../src/jobs/run/processor.js';
import { ResourceLocks } from '../../src/requests/resource-lock.js';
import { Outbox } from '../../src/slack/outbox.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { VendorClients } from '../../src/vendors/clients.js';
import { emptyCalendar } from '../support/calendar.js';
import { arcgisProd, type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * One action per resource: a second request on the same deployment waits, or is refused by policy;
 * a run that gives up frees the resource at once.
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

async function twoRequestsOnOneDeployment(whenBusy: 'wait' | 'refuse') {
  const deployment = arcgis.addDeployment({
    script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 15 } },
  });
  bot = await startHarness({
    ...arcgisProd(arcgis),
    actions: { 'arcgis.deployment.refresh': { whenBusy } },
  });
  await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
  const first = await bot.nextRequestId();
  await bot.click(USERS.approver, 'approve', first);
  await waitFor(() => arcgis.counters.refreshCalls[deployment.deploymentId] === 1, 'the first refresh');
  await bot.command(USERS.approver, `arcgis refresh-deployment ${deployment.deploymentId}`);
  const second = await bot.nextRequestId();
  expect(textOf(bot.root(second))).toContain(`\`${first}\``);
  await bot.click(USERS.requester, 'approve', second);
  return { deployment, first, second };
}

describe('one action per resource', () => {
  it('makes a second request wait for the first, saying who holds the resource, then runs it', async () => {
    const { deployment, first, second } = await twoRequestsOnOneDeployment('wait');
    await waitFor(() => bot.thread(second).some((m) => m.text.includes('Waiting')), 'a waiting note');
    expect(bot.thread(second)[0]!.text).toContain(first);
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);
    await waitFor(
      async () => (await bot.opsbot.store.get(second))?.state === 'succeeded',
      'the second to finish',
      30_000,
    );
    const firstDone = (await bot.opsbot.store.get(first))!;
    const secondDone = (await bot.opsbot.store.get(second))!;
    expect(firstDone.state).toBe('succeeded');
    // The second was sent to the vendor only once the first had ended.
    expect(secondDone.submittedAt).toBeGreaterThanOrEqual(firstDone.finishedAt!);
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(2);
  });

  it('refuses to approve the second request when policy says so, naming the holder, on the root too', async () => {
    const { deployment, first, second } = await twoRequestsOnOneDeployment('refuse');
    await waitFor(() => bot.ephemerals(USERS.requester).length === 1, 'the refusal');
    expect(bot.ephemerals(USERS.requester)[0]!.text).toContain(
      `Approval refused: request ${first} is working on`,
    );
    await waitFor(() => textOf(bot.root(second)).includes('Approval refused'), 'the root to say why');
    expect((await bot.opsbot.store.get(second))?.state).toBe('pending');
    const timeline = await bot.opsbot.store.timeline(second);
    expect(timeline.map((event) => event.kind)).toContain('recheck-refused');
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);
  });

  it('is freed at once when a run gives up (a step kept crashing), not when its lease lapses', async () => {
    // Given a refresh being polled, holding its deployment's lock (a lease of minutes).
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 100_000 } },
    });
    bot = await startHarness({
      ...arcgisProd(arcgis),
      actions: { 'arcgis.deployment.refresh': { pollInterval: '20s' } },
    });
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const id = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', id);
    const { store } = bot.opsbot;
    await waitFor(async () => (await store.get(id))?.phase === 'polling', 'polling');
    const locks = new ResourceLocks(bot.redis, bot.prefix);
    const lock = locks.key({ vendor: 'arcgis', target: 'prod' }, deployment.deploymentId);
    expect(await locks.runningOn(lock)).toBe(id);

    // When its run job has used up its attempts (what the worker does on the last failure).
    const queues = createQueues(bot.redis, bot.prefix);
    const end = createRunEnder({
      store,
      outbox: new Outbox(bot.redis, bot.prefix, queues.slack),
      calendar: emptyCalendar(bot.redis, bot.prefix, queues),
      locks,
      clients: new VendorClients(new Map(), bot.opsbot.log),
      policy: { effective: () => undefined },
      log: bot.opsbot.log,
      metrics: bot.opsbot.metrics,
    });
    await end(id, 'gave-up');
    await queues.close();

    // Then it ends unknown (the vendor may still be working), says so, and the lock is free.
    const ended = await store.get(id);
    expect(ended?.state).toBe('unknown');
    expect(await locks.runningOn(lock)).toBeUndefined();
    await waitFor(() => textOf(bot.root(id)).includes('could not go on following'), 'the root to say so');
  });
});
