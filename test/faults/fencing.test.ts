import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { type EceSimulator, startEceSimulator } from '../../src/vendors/ece/simulator.js';
import type { BotProcess } from '../support/bot-process.js';
import { textOf, waitFor } from '../support/harness.js';
import { type Cluster, startCluster } from './cluster.js';

/**
 * A worker that freezes (SIGSTOP: a long GC pause, a partition) past its job's lock mid-submit,
 * while another worker takes the job over, then wakes up (SIGCONT) still holding its stale read.
 * The run step's fencing token makes its writes fail, so the vendor gets one submission and the
 * thread one end, whichever of the two had got further.
 */

let arcgis: ArcgisSimulator;
let ece: EceSimulator;
let cluster: Cluster | undefined;
let frozen: BotProcess | undefined;

beforeAll(async () => {
  [arcgis, ece] = await Promise.all([startArcgisSimulator(), startEceSimulator({ stepMs: 300 })]);
});
afterAll(async () => {
  await Promise.all([arcgis.close(), ece.close()]);
});
afterEach(async () => {
  frozen?.thaw();
  frozen = undefined;
  await cluster?.stop();
  cluster = undefined;
});

const finals = (id: string) =>
  cluster!.thread(id).filter((m) => /Succeeded|Failed|unknown|Timed out/.test(m.text));

describe('a worker frozen past its lock mid-submit', { timeout: 90_000 }, () => {
  it('ECE: frozen during the read before the restart, it never sends a second restart', async () => {
    cluster = await startCluster({ arcgis, ece });
    const web = await cluster.start('web', ['web']);
    const first = await cluster.start('worker-a', ['worker']);
    const deployment = ece.addDeployment({ resources: [{ kind: 'kibana' }] });
    const resourceRead = (r: { method: string; path: string }) =>
      r.method === 'GET' && r.path.includes(deployment.id);
    // The read the restart makes first answers slowly: the worker is caught inside it.
    ece.inject({ method: 'GET', path: deployment.id, delayMs: 5_000 });
    const id = await cluster.request(web, `ece restart ${deployment.id} kibana`);
    await cluster.approve(web, id);
    await waitFor(() => ece.requests.some(resourceRead), 'the read before the restart');
    frozen = first;
    first.freeze();

    // Another worker takes the job over once the frozen one's lock lapses, and runs it.
    await cluster.start('worker-b', ['worker']);
    await waitFor(async () => (await cluster!.store.get(id))?.phase === 'done', 'the run to end', 60_000);

    first.thaw();
    frozen = undefined;
    // The thawed worker now gets its read's answer and would go on to restart: give it time to.
    await waitFor(
      () => first.logs.some((line) => line.includes('another worker took over or ended this run')),
      'the stale step to stop',
      20_000,
    );

    const restarts = ece.requests.filter(
      (r) => r.method === 'POST' && r.path.includes(`${deployment.id}/`) && r.path.endsWith('/_restart'),
    );
    expect(restarts).toHaveLength(1);
    const request = await cluster.store.get(id);
    expect(request?.state).toBe('succeeded');
    await waitFor(() => finals(id).length === 1, 'one final message');
    expect(finals(id)).toHaveLength(1);
    expect(textOf(cluster.root(id))).toContain('Succeeded');
  });

  it('ArcGIS: frozen during the refresh call itself, its late answer changes nothing', async () => {
    cluster = await startCluster({ arcgis });
    const web = await cluster.start('web', ['web']);
    const first = await cluster.start('worker-a', ['worker']);
    const deployment = arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { EXECUTING: 3 } } });
    const refreshes = () =>
      arcgis.requests.filter(
        (r) => r.method === 'POST' && r.path.includes(`${deployment.deploymentId}/refresh`),
      );
    // The refresh is taken by ArcGIS at once but answered late: the worker is caught waiting.
    arcgis.inject({ method: 'POST', path: `${deployment.deploymentId}/refresh`, delayMs: 5_000 });
    const id = await cluster.request(web, `arcgis refresh-deployment ${deployment.deploymentId}`);
    await cluster.approve(web, id);
    await waitFor(() => refreshes().length === 1, 'the refresh call');
    frozen = first;
    first.freeze();

    // The other worker finds the call's fate unknown (ArcGIS lists no jobs to match): it ends the
    // request `unknown`, never sending the refresh again.
    await cluster.start('worker-b', ['worker']);
    await waitFor(async () => (await cluster!.store.get(id))?.phase === 'done', 'the run to end', 60_000);
    first.thaw();
    frozen = undefined;
    await waitFor(
      () => first.logs.some((line) => line.includes('another worker took over or ended this run')),
      'the stale step to stop',
      20_000,
    );

    expect(refreshes()).toHaveLength(1);
    const request = await cluster.store.get(id);
    expect(request?.state).toBe('unknown');
    expect(request?.phase).toBe('done');
    // One end, and nothing after it: the stale worker's "submitted" never reached the thread.
    await waitFor(() => cluster!.updateKeys(id).at(-1) === 'final', 'the final message');
    expect(cluster.updateKeys(id).filter((key) => key === 'final')).toHaveLength(1);
    expect(cluster.updateKeys(id)).not.toContain('submitted');
  });
});
