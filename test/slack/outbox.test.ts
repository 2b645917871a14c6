import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { SLACK_QUEUE } from '../../src/jobs/queues.js';
import { Outbox, type OutboxItem } from '../../src/slack/outbox.js';
import { deleteKeys } from '../support/harness.js';

/** The per-request outbox: each item key is queued once, and each new item gets a delivery job. */

let redis: Redis;
let queue: Queue;
let outbox: Outbox;
let prefix: string;

beforeEach(() => {
  prefix = `t${randomBytes(5).toString('hex')}`;
  redis = new Redis(inject('redisUrl'));
  queue = new Queue(SLACK_QUEUE, { connection: redis, prefix });
  outbox = new Outbox(redis, prefix, queue);
});
afterEach(async () => {
  await queue.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const reply = (key: string): OutboxItem => ({ key, kind: 'reply', message: { text: key } });

describe('outbox', () => {
  it('queues an item key once however often it is pushed, with one delivery job per new item', async () => {
    await outbox.push('op-a', Outbox.root(1), reply('submitted'));
    await outbox.push('op-a', reply('submitted'));
    await outbox.push('op-a', Outbox.root(1), reply('progress-1'));

    const queued = await redis.lrange(outbox.listKey('op-a'), 0, -1);
    expect(queued.map((item) => (JSON.parse(item) as OutboxItem).key)).toEqual([
      'root@1',
      'submitted',
      'progress-1',
    ]);
    const jobs = await queue.getJobs(['wait', 'delayed', 'prioritized']);
    expect(jobs.map((job) => job.id).sort()).toEqual(['deliver-op-a-2', 'deliver-op-a-3']);
    // The seen keys stay in Redis's compact encoding.
    expect(await redis.object('ENCODING', outbox.seenKey('op-a'))).toBe('listpack');
  });
});
