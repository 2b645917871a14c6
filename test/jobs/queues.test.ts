import { randomBytes } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  ACTIONS_QUEUE,
  COMMAND_JOB,
  COMMANDS_QUEUE,
  createQueues,
  type Queues,
  RUN_JOB,
  SLACK_QUEUE,
  WORKER_OPTIONS,
} from '../../src/jobs/queues.js';
import { enqueueRun, runJobId } from '../../src/jobs/reconcile.js';
import { DELIVER_JOB } from '../../src/slack/outbox.js';
import { deleteKeys, waitFor } from '../support/harness.js';

/** Job and worker options: what a run job keeps in Redis, how a crashing step is retried, and how
 * long a finished job is kept. */

let redis: Redis;
let queues: Queues;
let prefix: string;
let worker: Worker | undefined;

beforeEach(() => {
  prefix = `t${randomBytes(5).toString('hex')}`;
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  queues = createQueues(redis, prefix);
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await queues.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

describe('run jobs', () => {
  it('keep their hash compact', async () => {
    await enqueueRun(queues.actions, 'op-7k3m9qx');
    const key = `${prefix}:${ACTIONS_QUEUE}:${runJobId('op-7k3m9qx')}`;
    expect(await redis.object('ENCODING', key)).toBe('listpack');
  });

  it('retry a crashed step after 2 s, then 4 s…, five attempts in all', async () => {
    worker = new Worker(
      ACTIONS_QUEUE,
      async (): Promise<void> => {
        throw new Error('a bug');
      },
      { ...WORKER_OPTIONS.actions, connection: redis, prefix },
    );
    await enqueueRun(queues.actions, 'op-7k3m9qx');
    const job = async () => (await queues.actions.getJob(runJobId('op-7k3m9qx'))) as Job;

    await waitFor(async () => (await job()).attemptsMade === 1, 'the first crash');
    expect(await (await job()).getState()).toBe('delayed');
    expect((await job()).delay).toBe(2_000);
    await (await job()).promote();
    await waitFor(async () => (await job()).attemptsMade === 2, 'the second crash');
    expect((await job()).delay).toBe(4_000);
    expect((await job()).opts.attempts).toBe(5);
  });

  it('are kept once finished, so the same request cannot run twice', async () => {
    const runs: string[] = [];
    worker = new Worker(
      ACTIONS_QUEUE,
      async (job) => {
        runs.push(job.data.requestId);
        if (job.data.requestId === 'op-failsxx') throw new Error('a bug');
      },
      { ...WORKER_OPTIONS.actions, connection: redis, prefix },
    );
    await enqueueRun(queues.actions, 'op-7k3m9qx');
    await queues.actions.add(
      RUN_JOB,
      { requestId: 'op-failsxx' },
      { jobId: runJobId('op-failsxx'), attempts: 1 },
    );
    await waitFor(
      async () => (await queues.actions.getJobCounts('completed', 'failed')).failed === 1,
      'the failure',
    );
    await waitFor(async () => (await queues.actions.getCompletedCount()) === 1, 'the success');

    await enqueueRun(queues.actions, 'op-7k3m9qx');
    await enqueueRun(queues.actions, 'op-failsxx');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(runs.sort()).toEqual(['op-7k3m9qx', 'op-failsxx']);
  });
});

describe('delivery jobs', () => {
  it('are dropped once done (the outbox, not the job id, keeps a message from going twice)', async () => {
    worker = new Worker(SLACK_QUEUE, async () => {}, { ...WORKER_OPTIONS.slack, connection: redis, prefix });
    await queues.slack.add(DELIVER_JOB, { requestId: 'op-7k3m9qx' }, { jobId: 'deliver-op-7k3m9qx-1' });
    await waitFor(
      async () => (await queues.slack.getJob('deliver-op-7k3m9qx-1')) === undefined,
      'the job gone',
    );
    expect(await queues.slack.getCompletedCount()).toBe(0);
  });
});

describe('command jobs', () => {
  it('retry a crashed handling after 2 s, and are dropped once handled', async () => {
    let attempts = 0;
    worker = new Worker(
      COMMANDS_QUEUE,
      async (): Promise<void> => {
        attempts += 1;
        if (attempts === 1) throw new Error('a bug');
      },
      { ...WORKER_OPTIONS.commands, connection: redis, prefix },
    );
    const added = await queues.commands.add(COMMAND_JOB, { text: 'help' });
    const job = async () => queues.commands.getJob(added.id!);
    await waitFor(async () => (await job())?.attemptsMade === 1, 'the first crash');
    expect(await (await job())!.getState()).toBe('delayed');
    expect((await job())!.delay).toBe(2_000);
    await (await job())!.promote();
    await waitFor(async () => (await job()) === undefined, 'the handled job gone');
    expect(attempts).toBe(2);
    expect(await queues.commands.getCompletedCount()).toBe(0);
  });
});
