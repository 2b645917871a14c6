import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STOPPED_WAITING } from '../../src/jobs/run/follow.js';
import { ResourceLocks } from '../../src/requests/resource-lock.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * A run follows its own request's policy, its action on its target: two targets of one vendor,
 * where `lab` polls every 10 minutes and gives up after 2 seconds, and `prod` keeps the action's
 * fast test timing (a poll every 30 ms, a 20 s deadline).
 */

const REFRESH = 'arcgis.deployment.refresh';

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

async function requestAndApprove(text: string): Promise<string> {
  await bot.command(USERS.requester, text);
  const id = await bot.nextRequestId();
  await bot.click(USERS.approver, 'approve', id);
  return id;
}

describe('a run by its own target’s policy', () => {
  it('takes its deadline, poll interval and lock lease from its target, not from the action', async () => {
    const target = { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } };
    bot = await startHarness({
      env: { ARCGIS_PASSWORD: arcgis.password },
      targets: { arcgis: { prod: target, lab: target } },
      actions: { [REFRESH]: { targets: { lab: { pollInterval: '10m', deadline: '2s' } } } },
    });
    const quick = arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { EXECUTING: 3 } } });
    const endless = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 0, EXECUTING: 100_000 } },
    });
    const { store } = bot.opsbot;

    const onLab = await requestAndApprove(`arcgis refresh-deployment ${endless.deploymentId} --target lab`);
    await waitFor(
      async () => ((await store.get(onLab))?.reported ?? 0) >= 1,
      'the lab refresh to be followed',
    );
    // The lock outlives lab's 10-minute wait between polls (with the action's 30 ms polls it
    // would lapse after two minutes, freeing the deployment in the middle of the run).
    const locks = new ResourceLocks(bot.redis, bot.prefix);
    const lock = locks.key({ vendor: 'arcgis', target: 'lab' }, endless.deploymentId);
    expect(await bot.redis.pttl(lock)).toBeGreaterThan(10 * 60_000);

    const onProd = await requestAndApprove(`arcgis refresh-deployment ${quick.deploymentId} --target prod`);
    await waitFor(
      async () => (await store.get(onProd))?.state === 'succeeded',
      'the prod refresh to succeed',
    );
    await waitFor(async () => (await store.get(onLab))?.state === 'timed_out', 'the lab refresh to time out');

    const lab = (await store.get(onLab))!;
    expect(lab.outcome).toBe(STOPPED_WAITING);
    // Lab's first poll came after the action's 20 ms first delay; the next was not due before
    // its deadline, where the run ended without reading the job again.
    const reads = (jobId: string | undefined) =>
      arcgis.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/jobs/${jobId}`)).length;
    expect(reads(lab.progress?.vendorJobId)).toBe(1);
    expect(reads((await store.get(onProd))?.progress?.vendorJobId)).toBeGreaterThan(1);

    // The root and the closing reply say it once: the end, then the vendor's job and last status.
    await waitFor(() => textOf(bot.root(onLab)).includes('Timed out waiting'), 'the lab root to say so');
    expect(textOf(bot.root(onLab))).toContain(`:warning: *Timed out waiting* · ${STOPPED_WAITING}`);
    const isFinal = (m: { metadata?: unknown }) => JSON.stringify(m.metadata ?? {}).includes('"final"');
    await waitFor(() => bot.thread(onLab).some(isFinal), 'the closing reply');
    const reply = textOf(bot.thread(onLab).find(isFinal));
    expect(reply).toContain(STOPPED_WAITING);
    expect(reply).toContain(`Vendor job \`${lab.progress?.vendorJobId}\``);
    expect(reply).toContain('Last status from arcgis: *EXECUTING*');
    expect(`${textOf(bot.root(onLab))}\n${reply}`).not.toMatch(/timed out waiting;|last known status/i);
  });
});
