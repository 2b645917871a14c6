import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedisServer } from '../../src/devtools/redis-server.js';
import { ACTIONS_QUEUE } from '../../src/jobs/queues.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { textOf, USERS, waitFor } from '../support/harness.js';
import { type Cluster, checkInvariant, startCluster } from './cluster.js';

/**
 * Fault injection with real processes on one real Redis: workers killed with SIGKILL mid-poll,
 * Redis killed and restarted, web processes replaced, approval races across processes and
 * repeated deliveries. Every test ends on the same invariant: each approved action reaches exactly
 * one final state, with exactly one vendor submission, and every thread update delivered once,
 * in order.
 */

let arcgis: ArcgisSimulator;
let cluster: Cluster | undefined;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
});
afterAll(async () => {
  await arcgis.close();
});
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const longJob = () =>
  arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { SUBMITTED: 2, EXECUTING: 40 } } });

describe('fault injection with real processes', { timeout: 120_000 }, () => {
  it('finishes every action exactly once when a worker is killed with SIGKILL while polling', async () => {
    cluster = await startCluster({ arcgis });
    const web = await cluster.start('web', ['web']);
    const doomed = await cluster.start('worker-a', ['worker']);
    await cluster.start('worker-b', ['worker']);
    const deployments = new Map<string, string>();
    for (let i = 0; i < 10; i += 1) {
      const deployment = longJob();
      const id = await cluster.request(web, `arcgis refresh-deployment ${deployment.deploymentId}`);
      deployments.set(id, deployment.deploymentId);
    }
    await Promise.all([...deployments.keys()].map((id) => cluster!.approve(web, id)));
    const ids = [...deployments.keys()];
    await waitFor(
      async () => (await cluster!.requests(ids)).every((r) => r.phase === 'polling'),
      'every action to be polling',
    );

    await doomed.crash();

    await waitFor(
      async () => (await cluster!.requests(ids)).every((r) => r.phase === 'done'),
      'every action to end',
      60_000,
    );
    await waitFor(
      () => ids.every((id) => cluster!.updateKeys(id).at(-1) === 'final'),
      'every final message',
      30_000,
    );
    const requests = await cluster.requests(ids);
    expect(requests.map((r) => r.state)).toEqual(ids.map(() => 'succeeded'));
    checkInvariant(cluster, arcgis, requests, (r) => deployments.get(r.id)!);
  });

  it('loses nothing when Redis is killed and restarted with persistence on, and reconnects by itself', async () => {
    const redis: RedisProcess = await startRedisServer({ persistent: true });
    try {
      cluster = await startCluster({ arcgis, redisUrl: redis.url });
      const bot = await cluster.start('both', ['web', 'worker']);
      const running = longJob();
      const waiting = longJob();
      const runningId = await cluster.request(bot, `arcgis refresh-deployment ${running.deploymentId}`);
      const pendingId = await cluster.request(bot, `arcgis refresh-deployment ${waiting.deploymentId}`);
      await cluster.approve(bot, runningId);
      await waitFor(async () => (await cluster!.store.get(runningId))?.phase === 'polling', 'polling');

      await redis.stop({ crash: true });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await redis.restart();

      await waitFor(
        async () => (await cluster!.store.get(pendingId))?.state === 'pending',
        'the pending request to survive',
      );
      // While the web's fail-fast connection is down a click is answered "try again"; so try again.
      await waitFor(
        async () => {
          await cluster!.approve(bot, pendingId);
          return (await cluster!.store.get(pendingId))?.state !== 'pending';
        },
        'the web process to take clicks again',
        20_000,
      );
      await waitFor(
        async () => (await cluster!.requests([runningId, pendingId])).every((r) => r.phase === 'done'),
        'both actions to end',
        60_000,
      );
      await waitFor(
        () => [runningId, pendingId].every((id) => cluster!.updateKeys(id).at(-1) === 'final'),
        'final messages',
      );
      const requests = await cluster.requests([runningId, pendingId]);
      expect(requests.map((r) => r.state)).toEqual(['succeeded', 'succeeded']);
      checkInvariant(cluster, arcgis, requests, (r) => (r.id === runningId ? running : waiting).deploymentId);
    } finally {
      await cluster?.stop();
      cluster = undefined;
      await redis.destroy();
    }
  });

  it('keeps pending approvals across a web restart, and expiry fires with no web process at all', async () => {
    // Long enough for a web process to start under a loaded CI machine, short enough to wait out.
    cluster = await startCluster({ arcgis, approvalTimeout: '20s' });
    const firstWeb = await cluster.start('web-1', ['web']);
    await cluster.start('worker', ['worker']);
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 2 } },
    });
    const approved = await cluster.request(firstWeb, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const forgotten = await cluster.request(firstWeb, `arcgis refresh-deployment ${longJob().deploymentId}`);
    await firstWeb.crash();

    const secondWeb = await cluster.start('web-2', ['web']);
    expect(await cluster.approve(secondWeb, approved)).toBe(200);
    // Clicks are decided before they are acknowledged unless Redis is slower than ACK_GUARD_MS,
    // which a cold process on a loaded machine can be: wait for the decision, then kill the web.
    await waitFor(
      async () => (await cluster!.store.get(approved))?.state !== 'pending',
      'the approval to be recorded',
    );
    await secondWeb.crash();

    await waitFor(
      async () => (await cluster!.store.get(approved))?.state === 'succeeded',
      'the approved action',
    );
    await waitFor(
      async () => (await cluster!.store.get(forgotten))?.state === 'expired',
      'the forgotten one to expire',
      40_000,
    );
    await waitFor(() => {
      const root = cluster!.slack.messages.find(
        (m) => !m.thread_ts && m.edited && textOf(m).includes('Expired'),
      );
      return root !== undefined;
    }, 'the expired message');
  });

  it('submits once however many clicks arrive at however many web processes, repeated', async () => {
    cluster = await startCluster({ arcgis });
    const webs = [await cluster.start('web-1', ['web']), await cluster.start('web-2', ['web'])];
    await cluster.start('worker', ['worker']);
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 3 } },
    });
    const id = await cluster.request(webs[0]!, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const approvers = [USERS.approver, USERS.groupApprover, USERS.requester];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        cluster!.approve(webs[i % 2]!, id, approvers[i % approvers.length]!),
      ),
    );
    await waitFor(async () => (await cluster!.store.get(id))?.phase === 'done', 'the action to end');
    await waitFor(() => cluster!.updateKeys(id).at(-1) === 'final', 'the final message');
    checkInvariant(cluster, arcgis, await cluster.requests([id]), () => deployment.deploymentId);
  });

  it('shuts a worker down on SIGTERM within its grace period, leaving no job stuck in active', async () => {
    cluster = await startCluster({ arcgis });
    const web = await cluster.start('web', ['web']);
    const first = await cluster.start('worker-a', ['worker']);
    const deployment = longJob();
    const id = await cluster.request(web, `arcgis refresh-deployment ${deployment.deploymentId}`);
    await cluster.approve(web, id);
    await waitFor(async () => (await cluster!.store.get(id))?.phase === 'polling', 'polling');

    expect(await first.terminate()).toBe(0);
    const request = (await cluster.store.get(id))!;
    const queue = new Queue(ACTIONS_QUEUE, { connection: cluster.redis, prefix: cluster.store.prefix });
    expect(await queue.getActiveCount()).toBe(0);
    await queue.close();

    await cluster.start('worker-b', ['worker']);
    await waitFor(
      async () => (await cluster!.store.get(id))?.phase === 'done',
      'the other worker to finish it',
      30_000,
    );
    await waitFor(() => cluster!.updateKeys(id).at(-1) === 'final', 'the final message');
    expect(request.state).toBe('running');
    checkInvariant(cluster, arcgis, await cluster.requests([id]), () => deployment.deploymentId);
  });
});
