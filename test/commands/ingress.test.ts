import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRedisServer } from '../../src/devtools/redis-server.js';
import { COMMANDS_QUEUE } from '../../src/jobs/queues.js';
import { RequestStore } from '../../src/requests/store.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { arcgisProd, CHANNEL, type Harness, startHarness, USERS, waitFor } from '../support/harness.js';

/**
 * The web process records a slash command in Redis before it acknowledges it, and a worker
 * handles it. So an acknowledged command survives the web process, a command Redis could not take
 * is refused in the ack itself, and a worker retrying a command's job opens one request.
 */

let arcgis: ArcgisSimulator;
const harnesses: Harness[] = [];

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
});
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((harness) => harness.stop()));
});
afterAll(async () => {
  await arcgis?.close();
});

async function start(options: { roles: Array<'web' | 'worker'>; prefix?: string; redisUrl?: string }) {
  const harness = await startHarness({
    ...arcgisProd(arcgis),
    ...options,
  });
  harnesses.push(harness);
  return harness;
}

describe('/ops ingress', () => {
  it('records the command before it acks: a web process alone queues it, a worker started later opens it', async () => {
    const web = await start({ roles: ['web'] });
    const deployment = arcgis.addDeployment().deploymentId;
    const sent = await web.command(USERS.requester, `arcgis refresh-deployment ${deployment}`);
    expect(sent.status).toBe(200);
    expect(sent.body).toBe('');

    const queue = new Queue(COMMANDS_QUEUE, { connection: web.redis, prefix: web.prefix });
    try {
      expect(await queue.getWaitingCount()).toBe(1);
      // Nothing else happened yet: no request, no message.
      expect(await web.redis.zcard(`${web.prefix}:requests`)).toBe(0);
      expect(web.slack.messages).toHaveLength(0);

      const worker = await start({ roles: ['worker'], prefix: web.prefix });
      const requestId = await worker.nextRequestId();
      expect(await new RequestStore(web.redis, web.prefix).get(requestId)).toMatchObject({
        requester: USERS.requester,
        args: { deploymentId: deployment },
      });
      await waitFor(async () => (await queue.getWaitingCount()) === 0, 'the command job to be taken');
      expect(await web.redis.zcard(`${web.prefix}:requests`)).toBe(1);
    } finally {
      await queue.close();
    }
  });

  it('tells the sender in the ack itself that nothing was done when Redis cannot take the command', async () => {
    const redis = await startRedisServer();
    const web = await start({ roles: ['web'], redisUrl: redis.url });
    harnesses.pop(); // stopped here, while its Redis still runs
    try {
      web.redis.on('error', () => {}); // the test's own connection: the outage is the point
      await redis.stop();

      const sent = await web.command(USERS.requester, 'arcgis refresh-deployment d1');
      expect(sent.status).toBe(200);
      const answer = JSON.parse(sent.body) as { response_type: string; text: string };
      expect(answer.response_type).toBe('ephemeral');
      expect(answer.text).toContain('could not record this command');
      expect(answer.text).toContain('nothing was done');
      expect(web.logLines.join('')).toContain('could not record a slash command');

      // Once Redis is back, the next command is recorded and acked as usual.
      await redis.restart();
      await waitFor(
        async () => (await web.command(USERS.requester, 'help')).body === '',
        'commands to be recorded again',
        20_000,
      ).catch((error: Error) => {
        // One full run timed out here and could not be reproduced: keep what the web process said.
        throw new Error(
          `${error.message}; the web process's last log lines:\n${web.logLines.slice(-20).join('')}`,
        );
      });
    } finally {
      await web.stop();
      await redis.destroy();
    }
  });
});

describe('a command job handled twice (a worker retrying after a crash)', () => {
  let redis: Redis;
  let store: RequestStore;

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
    store = new RequestStore(redis, `ingress-${Date.now()}`);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${store.prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const fields = (createdAt: number) => ({
    actionId: 'arcgis.deployment.refresh',
    vendor: 'arcgis',
    target: 'prod',
    args: { deploymentId: 'd1' },
    summary: { fields: [{ label: 'Deployment', value: 'd1' }], warnings: [] },
    channel: CHANNEL,
    requester: USERS.requester,
    createdAt,
    expiresAt: createdAt + 60_000,
    highRisk: false,
  });

  it('opens the same request again rather than a second one', async () => {
    const createdAt = Date.now();
    const first = await store.create(fields(createdAt), 'op-retry01');
    const again = await store.create(fields(createdAt), 'op-retry01');
    expect(again.id).toBe(first.id);
    expect(again.correlationId).toBe(first.correlationId);
    expect(await redis.zrange(store.allIndexKey(), '0', '-1')).toEqual(['op-retry01']);
    expect(await store.timeline('op-retry01')).toHaveLength(1);
  });

  it('draws a fresh id when the chosen one belongs to another request', async () => {
    const createdAt = Date.now();
    await store.create(fields(createdAt), 'op-taken01');
    const other = await store.create(fields(createdAt + 500), 'op-taken01');
    expect(other.id).not.toBe('op-taken01');
    expect(await store.get(other.id)).toMatchObject({ createdAt: createdAt + 500 });
  });

  it('claims a trigger for its first job and that same job again, never for another', async () => {
    expect(await store.claimOnce('slash:T1:trigger-1', 60_000, 'job-1')).toBe(true);
    expect(await store.claimOnce('slash:T1:trigger-1', 60_000, 'job-1')).toBe(true);
    expect(await store.claimOnce('slash:T1:trigger-1', 60_000, 'job-2')).toBe(false);
  });
});
