import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { type EceSimulator, startEceSimulator } from '../../src/vendors/ece/simulator.js';
import type { BotProcess } from '../support/bot-process.js';
import { waitFor } from '../support/harness.js';
import { type Cluster, startCluster } from './cluster.js';

/**
 * The chaos run: 60 actions in flight on two vendors while workers are killed with SIGKILL every
 * few seconds, several times within each action's life, and replaced. Every action must still
 * end, each with exactly one vendor submission (none only where it ended `unknown` because a
 * worker died during the call itself) and exactly one final message.
 */

let arcgis: ArcgisSimulator;
let ece: EceSimulator;
let cluster: Cluster | undefined;

beforeAll(async () => {
  [arcgis, ece] = await Promise.all([startArcgisSimulator(), startEceSimulator({ stepMs: 7_000 })]);
});
afterAll(async () => {
  await Promise.all([arcgis.close(), ece.close()]);
});
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const ARCGIS_ACTIONS = 50;
const ECE_ACTIONS = 10;
const CHAOS_MS = 45_000;

describe('chaos', { timeout: 300_000 }, () => {
  it('ends every action exactly once while workers are killed again and again', async () => {
    cluster = await startCluster({ arcgis, ece, pollInterval: '200ms', deadline: '10m' });
    const c = cluster;
    const web = await c.start('web', ['web']);
    const workers: BotProcess[] = [];
    for (const name of ['worker-1', 'worker-2', 'worker-3', 'worker-4'])
      workers.push(await c.start(name, ['worker']));
    // Every job read answers slowly, so at any moment many steps are running: each kill catches
    // several of them mid-step (their jobs stall and are taken over).
    arcgis.inject({ method: 'GET', path: '/admin/jobs/', delayMs: 150, times: 1_000_000 });

    const vendorOf = new Map<string, { vendor: 'arcgis' | 'ece'; resource: string }>();
    for (let i = 0; i < ARCGIS_ACTIONS; i += 1) {
      const { deploymentId } = arcgis.addDeployment({
        script: { outcome: 'COMPLETED', polls: { SUBMITTED: 2, EXECUTING: 110 } },
      });
      vendorOf.set(await c.request(web, `arcgis refresh-deployment ${deploymentId}`), {
        vendor: 'arcgis',
        resource: deploymentId,
      });
    }
    for (let i = 0; i < ECE_ACTIONS; i += 1) {
      const { id } = ece.addDeployment({ resources: [{ kind: 'kibana' }] });
      vendorOf.set(await c.request(web, `ece restart ${id} kibana`), { vendor: 'ece', resource: id });
    }
    const ids = [...vendorOf.keys()];
    await Promise.all(ids.map((id) => c.approve(web, id)));

    // Kill a worker every 2–4 s and start another in its place (without waiting for it: starting
    // takes seconds), for the whole chaos window, keeping at least one alive.
    const allDone = async () => (await c.requests(ids)).every((r) => r.phase === 'done');
    const starting: Array<Promise<void>> = [];
    let kills = 0;
    let serial = workers.length;
    const until = Date.now() + CHAOS_MS;
    while (Date.now() < until && !(await allDone())) {
      await new Promise((resolve) => setTimeout(resolve, 2_000 + Math.random() * 2_000));
      if (workers.length < 2) continue;
      const victim = workers.splice(Math.floor(Math.random() * workers.length), 1)[0]!;
      await victim.crash();
      kills += 1;
      serial += 1;
      starting.push(c.start(`worker-${serial}`, ['worker']).then((started) => void workers.push(started)));
    }
    await Promise.all(starting);
    expect(kills).toBeGreaterThanOrEqual(6);

    await waitFor(allDone, 'every action to end', 150_000);
    await waitFor(
      () => ids.every((id) => c.updateKeys(id).at(-1) === 'final'),
      'every final message',
      60_000,
    );
    const requests = await c.requests(ids);
    const problems: string[] = [];
    for (const request of requests) {
      const { vendor, resource } = vendorOf.get(request.id)!;
      const submissions =
        vendor === 'arcgis'
          ? (arcgis.counters.refreshCalls[resource] ?? 0)
          : ece.requests.filter(
              (r) => r.method === 'POST' && r.path.includes(`${resource}/`) && r.path.endsWith('/_restart'),
            ).length;
      const where = `${request.id} (${vendor}, ${request.state})`;
      if (submissions > 1) problems.push(`${where} was submitted ${submissions} times`);
      if (submissions === 0 && request.state !== 'unknown') problems.push(`${where} was never submitted`);
      const keys = c.updateKeys(request.id);
      if (keys.filter((key) => key === 'final').length !== 1)
        problems.push(`${where} thread: ${keys.join(', ')}`);
      if (new Set(keys).size !== keys.length)
        problems.push(`${where} repeated an update: ${keys.join(', ')}`);
    }
    expect(problems).toEqual([]);
    // A kill during the vendor call itself leaves its fate unknown; everything else succeeds.
    const unknown = requests.filter((r) => r.state === 'unknown').length;
    expect(requests.filter((r) => r.state === 'succeeded').length + unknown).toBe(ids.length);
    expect(unknown).toBeLessThan(ids.length / 4);
  });
});
