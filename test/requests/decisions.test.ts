import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { WebClient } from '@slack/web-api';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createQueues, type Queues } from '../../src/jobs/queues.js';
import { createReconcileProcessor, runJobId } from '../../src/jobs/reconcile.js';
import { Metrics } from '../../src/observability/metrics.js';
import { RequestLifecycle } from '../../src/requests/lifecycle.js';
import { Policy } from '../../src/requests/policy.js';
import { ResourceLocks } from '../../src/requests/resource-lock.js';
import { RequestStore } from '../../src/requests/store.js';
import { Outbox } from '../../src/slack/outbox.js';
import { deleteKeys } from '../support/harness.js';

/**
 * Decisions on a pending request, on a real Redis: approve reports what happened (once the
 * pending → approved compare-and-set is made, the clicker is told it is approved even if queueing
 * the run fails right after, here because the actions queue's Redis is unreachable, and the
 * reconciler queues it); reject ends it with a reason, given by an approver only.
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

/** The policy of a small real config: U0ASKER1 asks, U0APPROVER1 approves (listed by id: no Slack lookups). */
function policyOf(): Policy {
  const config = loadConfig({
    env: {
      SLACK_BOT_TOKEN: 'xoxb-approve-test',
      SLACK_SIGNING_SECRET: 'secret-approve-test',
      ARCGIS_PASSWORD: 'pw-approve-test',
    },
    document: {
      slack: { botToken: { env: 'SLACK_BOT_TOKEN' }, signingSecret: { env: 'SLACK_SIGNING_SECRET' } },
      targets: {
        arcgis: { prod: { url: 'https://127.0.0.1:1', username: 'u', password: { env: 'ARCGIS_PASSWORD' } } },
      },
      policy: {
        channels: ['C0CHAN1'],
        defaults: { requesters: { users: ['U0ASKER1'] }, approvers: { users: ['U0APPROVER1'] } },
      },
    },
  });
  return new Policy(config, new WebClient('xoxb-approve-test'));
}

const log = pino({ level: 'silent' });

function lifecycleOn(actions: Queues): { lifecycle: RequestLifecycle; outbox: Outbox } {
  const outbox = new Outbox(redis, prefix, queues.slack);
  const lifecycle = new RequestLifecycle({
    store,
    outbox,
    queues: actions,
    locks: new ResourceLocks(redis, prefix),
    policy: policyOf(),
    log,
    metrics: new Metrics(),
    deliverNow: async () => {},
  });
  return { lifecycle, outbox };
}

async function pendingRequest() {
  const now = Date.now();
  return store.create({
    actionId: 'arcgis.deployment.refresh',
    vendor: 'arcgis',
    target: 'prod',
    args: { deploymentId: 'd1' },
    summary: { fields: [], warnings: [] },
    channel: 'C0CHAN1',
    requester: 'U0ASKER1',
    createdAt: now,
    expiresAt: now + 60_000,
    highRisk: false,
    quorum: {
      rules: [
        {
          label: 'approvers',
          count: 1,
          audience: [{ name: 'approvers', declared: false, users: ['U0APPROVER1'], groups: [] }],
        },
      ],
      requesterCounts: false,
    },
  });
}

describe('approve', () => {
  it('answers approved once the compare-and-set is made, even if queueing the run fails', async () => {
    const { lifecycle, outbox } = lifecycleOn(unreachableQueues);
    const request = await pendingRequest();

    const decision = await lifecycle.approve(request.id, 'U0APPROVER1', { channel: 'C0CHAN1' });

    if (!decision.ok) throw new Error(`refused: ${decision.reason}`);
    expect((await store.get(request.id))?.state).toBe('approved');
    expect(await queues.actions.getJob(runJobId(request.id))).toBeUndefined();
    expect(await store.pendingEnqueues()).toEqual([request.id]);

    // The reconciler (a worker's, with a working connection) queues what the click could not.
    await createReconcileProcessor({
      store,
      outbox,
      queues,
      policy: { effective: () => undefined },
      log,
      end: async () => {},
      expire: async () => {},
    })();
    expect(await (await queues.actions.getJob(runJobId(request.id)))?.getState()).toBe('waiting');
    expect(await store.pendingEnqueues()).toEqual([]);
  });
});

describe('reject', () => {
  it('ends a pending request rejected, with the approver and the reason, whatever votes it had', async () => {
    const { lifecycle, outbox } = lifecycleOn(queues);
    const request = await pendingRequest();

    const decision = await lifecycle.reject(
      request.id,
      'U0APPROVER1',
      { channel: 'C0CHAN1' },
      '  OPS-7 is not signed off  ',
    );

    if (!decision.ok) throw new Error(`refused: ${decision.reason}`);
    const rejected = (await store.get(request.id))!;
    expect(rejected).toMatchObject({
      state: 'rejected',
      rejectedBy: 'U0APPROVER1',
      decisionReason: 'OPS-7 is not signed off',
      phase: 'done',
    });
    const timeline = await store.timeline(request.id);
    expect(timeline.at(-1)).toMatchObject({
      kind: 'rejected',
      actor: 'U0APPROVER1',
      text: 'rejected: OPS-7 is not signed off',
    });
    const queued = (await redis.lrange(outbox.listKey(request.id), 0, -1)).map((raw) => JSON.parse(raw));
    expect(queued.map((item: { key: string }) => item.key)).toEqual([`root@${rejected.version}`, 'rejected']);
    expect(JSON.stringify(queued[1])).toContain('OPS-7 is not signed off');
    expect(await store.dueOpen(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it('needs a reason, and an approver, and changes nothing otherwise', async () => {
    const { lifecycle } = lifecycleOn(queues);
    const request = await pendingRequest();

    const noReason = await lifecycle.reject(request.id, 'U0APPROVER1', { channel: 'C0CHAN1' }, '   ');
    const notApprover = await lifecycle.reject(request.id, 'U0ASKER1', { channel: 'C0CHAN1' }, 'no');

    expect(noReason).toMatchObject({ ok: false, reason: expect.stringContaining('needs a reason') });
    expect(notApprover).toMatchObject({ ok: false, reason: expect.stringContaining('only an approver') });
    expect((await store.get(request.id))?.state).toBe('pending');
    expect((await store.timeline(request.id)).map((event) => event.kind)).toEqual(['requested']);
  });
});
