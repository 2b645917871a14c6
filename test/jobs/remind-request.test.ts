import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createQueues, ESCALATE_JOB, type Queues, REMIND_JOB } from '../../src/jobs/queues.js';
import { armFollowUps } from '../../src/jobs/remind-request.js';
import type { OpsRequest } from '../../src/requests/types.js';
import { deleteKeys } from '../support/harness.js';

/**
 * Arming a request's reminder jobs on a real queue: each is delayed to its point in the approval
 * window, and arming again (a retried opening) adds nothing.
 */

let redis: Redis;
let queues: Queues;
let prefix: string;

beforeEach(() => {
  prefix = `t${randomBytes(5).toString('hex')}`;
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  queues = createQueues(redis, prefix);
});
afterEach(async () => {
  await queues.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const NOW = 1_750_000_000_000;

function opened(followUp: OpsRequest['followUp']): OpsRequest {
  return { id: 'op-remind1', followUp } as OpsRequest;
}

describe('armFollowUps', () => {
  it('delays each job to its point in the window, once however often the request is opened', async () => {
    const request = opened({
      remindAt: NOW + 450_000,
      escalation: { at: NOW + 720_000, to: [] },
    });
    await armFollowUps(queues.actions, request, NOW);
    await armFollowUps(queues.actions, request, NOW + 5_000);

    const jobs = await queues.actions.getJobs(['delayed']);
    expect(jobs.map((job) => [job.id, job.name, job.data, job.opts.delay]).sort()).toEqual([
      ['escalate-op-remind1', ESCALATE_JOB, { requestId: 'op-remind1' }, 720_000],
      ['remind-op-remind1', REMIND_JOB, { requestId: 'op-remind1' }, 450_000],
    ]);
  });

  it('arms nothing the plan does not ask for', async () => {
    await armFollowUps(queues.actions, opened({ notifyRequester: true }), NOW);
    await armFollowUps(queues.actions, opened(undefined), NOW);
    await armFollowUps(queues.actions, opened({ remindAt: NOW + 1_000 }), NOW);

    const jobs = await queues.actions.getJobs(['delayed', 'waiting']);
    expect(jobs.map((job) => job.id)).toEqual(['remind-op-remind1']);
  });
});
