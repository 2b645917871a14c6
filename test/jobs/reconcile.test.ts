import { randomBytes } from 'node:crypto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createExpirer } from '../../src/jobs/expire-request.js';
import { ACTIONS_QUEUE, createQueues, EXPIRE_JOB, type Queues } from '../../src/jobs/queues.js';
import { createReconcileProcessor, enqueueRun, runJobId } from '../../src/jobs/reconcile.js';
import { STOPPED_WAITING } from '../../src/jobs/run/follow.js';
import { createRunEnder } from '../../src/jobs/run/processor.js';
import type { RunDeps } from '../../src/jobs/run/step.js';
import { Metrics } from '../../src/observability/metrics.js';
import { resolveActionPolicy } from '../../src/policy/resolve.js';
import { policySchema } from '../../src/policy/schema.js';
import { ResourceLocks } from '../../src/requests/resource-lock.js';
import { RequestStore } from '../../src/requests/store.js';
import type { OpsRequest } from '../../src/requests/types.js';
import { Outbox, type OutboxItem } from '../../src/slack/outbox.js';
import { VendorClients } from '../../src/vendors/clients.js';
import { deleteKeys, waitFor } from '../support/harness.js';

/**
 * The reconciler finds every request left short of an end, however its processes died, and
 * resumes or ends it: a lost or finished run job, one that used up its crash attempts, a deadline
 * no step enforced, an expiry job that never fired. Real Redis and real BullMQ queues and workers;
 * the states are made the way crashes leave them.
 */

let redis: Redis;
let queues: Queues;
let prefix: string;
let store: RequestStore;
let outbox: Outbox;
let reconcile: () => Promise<void>;
let worker: Worker | undefined;

const ACTION = 'arcgis.deployment.refresh';
const POLL_MS = 1_000;
const SLOW_POLL_MS = 10 * 60_000;

beforeEach(() => {
  prefix = `t${randomBytes(5).toString('hex')}`;
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  queues = createQueues(redis, prefix);
  store = new RequestStore(redis, prefix);
  outbox = new Outbox(redis, prefix, queues.slack);
  const log = pino({ level: 'silent' });
  const metrics = new Metrics();
  // The action's policy from a minimal config, with a poll interval the grace periods derive from:
  // on target `slow`, polls are ten minutes apart.
  const effective = resolveActionPolicy(policySchema.parse({ channels: ['*'] }), ACTION);
  const policy = {
    effective: (_actionId: string, target?: string) => {
      const pollIntervalMs = target === 'slow' ? SLOW_POLL_MS : POLL_MS;
      return {
        ...effective,
        timing: { pollIntervalMs, deadlineMs: 60_000, firstPollDelayMs: pollIntervalMs },
      };
    },
  };
  const run: RunDeps = {
    store,
    outbox,
    clients: new VendorClients(new Map(), log),
    locks: new ResourceLocks(redis, prefix),
    policy,
    log,
    metrics,
  };
  reconcile = createReconcileProcessor({
    store,
    outbox,
    queues,
    policy,
    log,
    end: createRunEnder(run),
    expire: createExpirer({ store, outbox, metrics }),
  });
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await queues.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

/** A request as a crash may leave it: opened, then moved to `state` with `fields`; due for a look. */
async function requestIn(
  state: 'pending' | 'approved' | 'running',
  fields: Partial<OpsRequest> = {},
  target = 'prod',
) {
  const now = Date.now();
  const request = await store.create({
    actionId: ACTION,
    vendor: 'arcgis',
    target,
    args: { deploymentId: 'd1' },
    summary: { fields: [], warnings: [] },
    channel: 'C1',
    requester: 'U1',
    createdAt: now,
    expiresAt: now + 60_000,
    highRisk: false,
  });
  if (state !== 'pending') {
    await store.transition(request.id, ['pending'], state, { kind: state, text: state }, fields);
  }
  await store.nextCheck(request.id, now - 1);
  return request.id;
}

async function queuedItems(id: string): Promise<OutboxItem[]> {
  return (await redis.lrange(outbox.listKey(id), 0, -1)).map((raw) => JSON.parse(raw) as OutboxItem);
}

async function jobState(id: string): Promise<string> {
  const job = await queues.actions.getJob(runJobId(id));
  return job ? job.getState() : 'missing';
}

/** A worker on the actions queue that does what `processor` says with each run job. */
function runJobsWith(processor: () => Promise<void>) {
  worker = new Worker(ACTIONS_QUEUE, processor, {
    connection: redis,
    prefix,
    settings: { backoffStrategy: () => 1 },
  });
}

describe('the reconciler', () => {
  it('queues the run job of an approved request that has none', async () => {
    const id = await requestIn('approved');
    expect(await jobState(id)).toBe('missing');

    await reconcile();

    expect(await jobState(id)).toBe('waiting');
    // And looks again later, not at every run.
    expect(await store.dueOpen(Date.now(), 10)).toEqual([]);
  });

  it('resumes a running request whose run job completed without ending it', async () => {
    const id = await requestIn('running', { phase: 'polling', deadlineAt: Date.now() + 60_000 });
    await enqueueRun(queues.actions, id);
    runJobsWith(async () => {});
    await waitFor(async () => (await jobState(id)) === 'completed', 'the job to complete');
    await worker!.close();

    await reconcile();

    expect(await jobState(id)).toBe('waiting');
    expect((await store.get(id))?.state).toBe('running');
  });

  it('ends, visibly, a request whose run job used up its attempts when nobody else did', async () => {
    const id = await requestIn('running', { phase: 'queued', deadlineAt: Date.now() + 60_000 });
    await queues.actions.add('run', { requestId: id }, { jobId: runJobId(id), attempts: 2 });
    // Each step crashes (a bug); the worker that saw the last failure died before ending it.
    runJobsWith(async () => {
      throw new Error('a bug in a step');
    });
    await waitFor(async () => (await jobState(id)) === 'failed', 'the job to fail');
    await worker!.close();

    await reconcile();

    const ended = await store.get(id);
    expect(ended?.state).toBe('failed');
    expect(ended?.outcome).toContain('could not go on following this action');
    expect((await queuedItems(id)).map((item) => item.key)).toEqual(['final', `root@${ended!.version}`]);
    expect(await store.dueOpen(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it('ends a running request past its deadline whose run job is gone, with its last status', async () => {
    const id = await requestIn('running', {
      phase: 'polling',
      deadlineAt: Date.now() - 1_000,
      progress: { outcome: 'running', status: 'EXECUTING', memo: null },
    });

    await reconcile();

    const ended = await store.get(id);
    expect(ended?.state).toBe('timed_out');
    expect(ended?.outcome).toBe(STOPPED_WAITING);
    expect(await jobState(id)).toBe('missing');
  });

  it('leaves a sleeping run past its deadline to its own next step, within a grace period', async () => {
    const progress = { outcome: 'running' as const, status: 'EXECUTING', memo: null };
    const soon = await requestIn('running', { phase: 'polling', deadlineAt: Date.now() - 1_000, progress });
    const long = await requestIn('running', { phase: 'polling', deadlineAt: Date.now() - 600_000, progress });
    for (const id of [soon, long]) {
      await queues.actions.add('run', { requestId: id }, { jobId: runJobId(id), delay: 3_600_000 });
    }

    await reconcile();

    expect((await store.get(soon))?.state).toBe('running');
    expect((await store.get(long))?.state).toBe('timed_out');
  });

  it("takes the grace period from the request's own target: twice its poll interval", async () => {
    // Five minutes past the deadline, asleep: past the grace of a 1 s poll (a minute), within
    // that of a 10 min poll on target `slow` (20 minutes).
    const progress = { outcome: 'running' as const, status: 'EXECUTING', memo: null };
    const fields = { phase: 'polling' as const, deadlineAt: Date.now() - 5 * 60_000, progress };
    const prod = await requestIn('running', fields, 'prod');
    const slow = await requestIn('running', fields, 'slow');
    for (const id of [prod, slow]) {
      await queues.actions.add('run', { requestId: id }, { jobId: runJobId(id), delay: 3_600_000 });
    }

    await reconcile();

    expect((await store.get(prod))?.state).toBe('timed_out');
    expect((await store.get(slow))?.state).toBe('running');
  });

  it('ends a submission whose fate is unknown as unknown when the deadline passes with no step', async () => {
    const id = await requestIn('running', { phase: 'submitting', deadlineAt: Date.now() - 1_000 });

    await reconcile();

    const ended = await store.get(id);
    expect(ended?.state).toBe('unknown');
    expect(ended?.outcome).toContain('may or may not have reached the vendor');
  });

  it('expires a pending request whose expiry job was lost', async () => {
    const id = await requestIn('pending');
    await redis.hset(store.key(id), 'expiresAt', String(Date.now() - 1_000));
    expect(await queues.actions.getJob(`${EXPIRE_JOB}-${id}`)).toBeUndefined();

    await reconcile();

    const expired = await store.get(id);
    expect(expired?.state).toBe('expired');
    expect((await queuedItems(id)).map((item) => item.key)).toEqual([`root@${expired!.version}`]);
  });

  it('leaves a healthy run alone and looks at it again later', async () => {
    const id = await requestIn('running', { phase: 'polling', deadlineAt: Date.now() + 600_000 });
    await queues.actions.add('run', { requestId: id }, { jobId: runJobId(id), delay: 3_600_000 });

    await reconcile();

    expect((await store.get(id))?.state).toBe('running');
    expect(await jobState(id)).toBe('delayed');
    expect(await store.dueOpen(Date.now(), 10)).toEqual([]);
  });
});
