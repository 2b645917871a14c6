import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { arcgisProd, type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/** One action per resource: a second request on the same deployment waits, or is refused by policy. */

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
    expect(secondDone.startedAt).toBeDefined();
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(2);
  });

  it('refuses the second request when policy says so, naming the holder', async () => {
    const { deployment, first, second } = await twoRequestsOnOneDeployment('refuse');
    await waitFor(async () => (await bot.opsbot.store.get(second))?.state === 'failed', 'the refusal');
    await waitFor(() => textOf(bot.thread(second).at(-1)).includes('Failed'), 'the final reply');
    expect(textOf(bot.thread(second).at(-1))).toContain(`busy: \`${first}\``);
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);
  });
});
