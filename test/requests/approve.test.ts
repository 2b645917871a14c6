import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createQueues, type Queues } from '../../src/jobs/queues.js';
import { createReconcileProcessor, runJobId } from '../../src/jobs/reconcile.js';
import { Metrics } from '../../src/observability/metrics.js';
import { RequestLifecycle } from '../../src/requests/lifecycle.js';
import type { Policy } from '../../src/requests/policy.js';
import { RequestStore } from '../../src/requests/store.js';
import { Outbox } from '../../src/slack/outbox.js';
import { deleteKeys } from '../support/harness.js';

/**
 * Approve reports what happened: once the pending → approved compare-and-set is made, the
 * clicker is told it is approved even if queueing the run fails right after (here: the actions
 * queue's Redis is unreachable), and the reconciler queues it.
 */

let redis: Redis;
let deadRedis: Redis;
let queues: Queues;
let unreachableQueues: Queues;
let prefix: string;
let store: RequestStore;

/** A port nothing listens on: a connection to it is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeEach(async () => {
  prefix = `t${randomBytes(5).toString('hex')}`;
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  queues = createQueues(redis, prefix);
  // As a web process's connection is: fail fast, no offline queue.
  deadRedis = new Redis(await closedPort(), '127.0.0.1', {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: true,
    retryStrategy: () => null,
  });
  deadRedis.on('error', () => {});
  unreachableQueues = createQueues(deadRedis, prefix);
  for (const queue of unreachableQueues.all) queue.on('error', () => {});
  store = new RequestStore(redis, prefix);
});
afterEach(async () => {
  await unreachableQueues.close().catch(() => {});
  deadRedis.disconnect();
  await queues.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const everyoneMayApprove = {
  mayApprove: async () => true,
  selfApprovalRefused: () => false,
} as unknown as Policy;

describe('approve', () => {
  it('answers approved once the compare-and-set is made, even if queueing the run fails', async () => {
    const log = pino({ level: 'silent' });
    const metrics = new Metrics();
    const outbox = new Outbox(redis, prefix, queues.slack);
    const lifecycle = new RequestLifecycle({
      store,
      outbox,
      queues: unreachableQueues,
      policy: everyoneMayApprove,
      log,
      metrics,
      deliverNow: async () => {},
    });
    const now = Date.now();
    const request = await store.create({
      actionId: 'arcgis.deployment.refresh',
      vendor: 'arcgis',
      target: 'prod',
      args: { deploymentId: 'd1' },
      summary: { fields: [], warnings: [] },
      channel: 'C1',
      requester: 'U1',
      createdAt: now,
      expiresAt: now + 60_000,
      highRisk: false,
    });

    const decision = await lifecycle.approve(request.id, 'U2', { channel: 'C1' });

    expect(decision.ok).toBe(true);
    expect((await store.get(request.id))?.state).toBe('approved');
    expect(await queues.actions.getJob(runJobId(request.id))).toBeUndefined();
    expect(await store.pendingEnqueues()).toEqual([request.id]);

    // The reconciler (a worker's, with a working connection) queues what the click could not.
    await createReconcileProcessor({
      store,
      outbox,
      queues,
      policies: new Map(),
      log,
      end: async () => {},
      expire: async () => {},
    })();
    expect(await (await queues.actions.getJob(runJobId(request.id)))?.getState()).toBe('waiting');
    expect(await store.pendingEnqueues()).toEqual([]);
  });
});
