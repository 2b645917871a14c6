import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { type CckmSimulator, SIM_DOMAINS, startCckmSimulator } from '../../src/vendors/cckm/simulator.js';
import { type EceSimulator, startEceSimulator } from '../../src/vendors/ece/simulator.js';
import { type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * A start call whose answer is lost (the vendor did the work, then the connection broke) is never
 * sent again. Where the vendor lists its work (CCKM refreshes), opsbot finds the job and follows
 * it to the end; where it cannot (ArcGIS), the request ends `unknown`, saying so.
 */

let arcgis: ArcgisSimulator;
let cckm: CckmSimulator;
let ece: EceSimulator;
let bot: Harness;

beforeAll(async () => {
  [arcgis, cckm, ece] = await Promise.all([
    startArcgisSimulator(),
    startCckmSimulator({ domainStepMs: 40 }),
    startEceSimulator({ stepMs: 40, hiddenReads: 1 }),
  ]);
});
afterAll(async () => {
  await Promise.all([arcgis.close(), cckm.close(), ece.close()]);
});
afterEach(async () => {
  await bot?.stop();
});

async function startBot() {
  bot = await startHarness({
    env: {
      ARCGIS_PASSWORD: arcgis.password,
      CCKM_PASSWORD: cckm.credentials.password,
      ECE_API_KEY: ece.credentials.apiKey,
    },
    targets: {
      arcgis: { prod: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } } },
      cckm: {
        prod: { url: cckm.url, username: cckm.credentials.username, password: { env: 'CCKM_PASSWORD' } },
      },
      ece: { prod: { url: ece.url, apiKey: { env: 'ECE_API_KEY' } } },
    },
  });
}

async function requestAndApprove(text: string) {
  await bot.command(USERS.requester, text);
  const requestId = await bot.nextRequestId();
  await bot.click(USERS.approver, 'approve', requestId);
  await waitFor(async () => (await bot.opsbot.store.get(requestId))?.phase === 'done', 'the action to end');
  return (await bot.opsbot.store.get(requestId))!;
}

const START_REFRESH = /\/cckm\/dsm\/refresh$/;

describe('a submission whose answer is lost', () => {
  it('finds the CCKM refresh it started and follows it, without starting another', async () => {
    await startBot();
    const startsBefore = cckm.requests.filter((r) => r.method === 'POST' && START_REFRESH.test(r.path));
    cckm.inject({ method: 'POST', path: START_REFRESH, loseAnswer: true });
    const [domain] = SIM_DOMAINS;
    const done = await requestAndApprove(`cckm refresh ${domain!.id}`);
    expect(done.state).toBe('succeeded');
    const starts = cckm.requests.filter((r) => r.method === 'POST' && START_REFRESH.test(r.path));
    expect(starts.length - startsBefore.length).toBe(1);
    const timeline = await bot.opsbot.store.timeline(done.id);
    expect(timeline.some((e) => e.kind === 'reconciled')).toBe(true);
    await waitFor(
      () => bot.thread(done.id).some((m) => textOf(m).includes('found at the vendor')),
      'the thread to say the job was found',
    );
  });

  it('finds the ECE plan attempt its restart made (once ECE shows it) and follows it to the end', async () => {
    const deployment = ece.addDeployment({ resources: [{ kind: 'kibana', refId: 'main-kibana' }] });
    await startBot();
    const restarts = () => ece.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/_restart'));
    const before = restarts().length;
    ece.inject({ method: 'POST', path: /\/_restart$/, loseAnswer: true });
    const done = await requestAndApprove(`ece restart ${deployment.id} kibana`);
    expect(done.state).toBe('succeeded');
    expect(restarts().length - before).toBe(1);
    expect((await bot.opsbot.store.timeline(done.id)).some((e) => e.kind === 'reconciled')).toBe(true);
  });

  it('ends an ArcGIS refresh unknown, never sending it twice', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
    });
    await startBot();
    arcgis.inject({
      method: 'POST',
      path: `/deployments/${deployment.deploymentId}/refresh`,
      loseAnswer: true,
    });
    const done = await requestAndApprove(`arcgis refresh-deployment ${deployment.deploymentId}`);
    expect(done.state).toBe('unknown');
    expect(done.outcome).toContain('may or may not have reached the vendor');
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);
  });
});
