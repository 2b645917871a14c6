import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { SLACK_QUEUE } from '../../src/jobs/queues.js';
import { ResourceLocks } from '../../src/requests/resource-lock.js';
import { RequestStore } from '../../src/requests/store.js';
import { Outbox, type OutboxItem } from '../../src/slack/outbox.js';
import { deleteKeys } from '../support/harness.js';

/**
 * A run step's write (RequestStore.patch) also records its routine vendor reads, queues its Slack
 * messages and renews its resource lock, in one atomic step, and answers whether a cancel awaits
 * the worker; a run's ending transition releases the lock and queues its closing messages. A
 * request's indexes stay bounded by the retention period.
 */

let redis: Redis;
let queue: Queue;
let prefix: string;
let store: RequestStore;
let outbox: Outbox;
let locks: ResourceLocks;

beforeEach(() => {
  prefix = `t${randomBytes(5).toString('hex')}`;
  redis = new Redis(inject('redisUrl'));
  queue = new Queue(SLACK_QUEUE, { connection: redis, prefix });
  store = new RequestStore(redis, prefix);
  outbox = new Outbox(redis, prefix, queue);
  locks = new ResourceLocks(redis, prefix);
});
afterEach(async () => {
  await queue.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const reply = (key: string): OutboxItem => ({ key, kind: 'reply', message: { text: key } });

function fields() {
  return {
    actionId: 'arcgis.deployment.refresh',
    vendor: 'arcgis',
    target: 'prod',
    args: { deployment: 'd1' },
    summary: { fields: [{ label: 'Deployment', value: 'd1' }], warnings: [] },
    requester: 'U1',
    channel: 'C1',
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    highRisk: false,
  };
}

async function newRequest() {
  return store.create(fields());
}

describe('a run step write', () => {
  it('queues its messages once, with the fields and the event, however often it is repeated', async () => {
    const request = await newRequest();
    const step = () =>
      store.patch(
        request.id,
        { reported: 2, faults: 0 },
        { kind: 'status', text: 'EXECUTING' },
        { outbox: outbox.batch(request.id, reply('progress-2'), Outbox.root(3)) },
      );
    await step();
    await step();

    const queued = await redis.lrange(outbox.listKey(request.id), 0, -1);
    expect(queued.map((item) => (JSON.parse(item) as OutboxItem).key)).toEqual(['progress-2', 'root@3']);
    expect((await store.get(request.id))?.reported).toBe(2);
    const timeline = await store.timeline(request.id);
    expect(timeline.map((event) => event.text)).toEqual(['requested', 'EXECUTING', 'EXECUTING']);
    // No delivery job: the caller delivers, as with Outbox.queue.
    expect(await queue.count()).toBe(0);
  });

  it('records routine reads in the audit trail only, before the step event', async () => {
    const request = await newRequest();
    await store.patch(
      request.id,
      { faults: 0 },
      { kind: 'status', text: 'EXECUTING' },
      {
        audit: [
          { kind: 'vendor-call', text: 'GET /jobs/j1 → HTTP 200' },
          { kind: 'vendor-call', text: 'GET /jobs/j1 → HTTP 200 again' },
        ],
      },
    );
    const trail = await store.auditTrail(10);
    expect(trail.map((record) => [record.kind, record.text, record.requestId]).reverse()).toEqual([
      ['requested', 'requested', request.id],
      ['vendor-call', 'GET /jobs/j1 → HTTP 200', request.id],
      ['vendor-call', 'GET /jobs/j1 → HTTP 200 again', request.id],
      ['status', 'EXECUTING', request.id],
    ]);
    expect((await store.timeline(request.id)).map((event) => event.text)).toEqual(['requested', 'EXECUTING']);
  });

  it("renews the request's own lease, takes a lapsed one back, and leaves another holder's alone", async () => {
    const request = await newRequest();
    const key = locks.key(request, 'd1');
    await redis.set(key, request.id, 'PX', 1_000);

    await store.patch(request.id, { faults: 1 }, undefined, { lease: { key, ms: 600_000 } });
    expect(await redis.pttl(key)).toBeGreaterThan(500_000);

    await redis.del(key);
    await store.patch(request.id, { faults: 2 }, undefined, { lease: { key, ms: 600_000 } });
    expect(await locks.runningOn(key)).toBe(request.id);

    await redis.set(key, 'op-other', 'PX', 5_000);
    await store.patch(request.id, { faults: 3 }, undefined, { lease: { key, ms: 600_000 } });
    expect(await locks.runningOn(key)).toBe('op-other');
    expect(await redis.pttl(key)).toBeLessThanOrEqual(5_000);
    expect((await store.get(request.id))?.faults).toBe(3);
  });

  it('with a required lease, takes the lock and writes, or writes nothing while another holds it', async () => {
    const request = await newRequest();
    const key = locks.key(request, 'd1');
    const submit = () =>
      store.patch(
        request.id,
        { phase: 'submitting' },
        { kind: 'vendor-call', text: 'calling arcgis' },
        {
          lease: { key, ms: 600_000, required: true },
          audit: [{ kind: 'vendor-call', text: 'GET /jobs → HTTP 200' }],
        },
      );
    await redis.set(key, 'op-other', 'PX', 5_000);

    expect(await submit()).toEqual({ status: 'locked', cancelAwaits: false, lockHolder: 'op-other' });
    expect((await store.get(request.id))?.phase).toBe('queued');
    expect((await store.timeline(request.id)).map((event) => event.kind)).toEqual(['requested']);
    // The read happened all the same: it stays in the audit trail.
    expect((await store.auditTrail(10)).map((record) => record.text)).toEqual([
      'GET /jobs → HTTP 200',
      'requested',
    ]);
    expect(await locks.runningOn(key)).toBe('op-other');

    await redis.del(key);
    expect(await submit()).toEqual({ status: 'ok', cancelAwaits: false, lockHolder: request.id });
    expect((await store.get(request.id))?.phase).toBe('submitting');
    expect((await store.timeline(request.id)).map((event) => event.text)).toEqual([
      'requested',
      'calling arcgis',
    ]);
    expect(await redis.pttl(key)).toBeGreaterThan(500_000);
  });

  it('is fenced: of two steps that read the same record, only the first to write acts on it', async () => {
    const request = await newRequest();
    await store.transition(request.id, ['pending'], 'running', { kind: 'running', text: 'started' });
    const read = (await store.get(request.id))!;
    expect(read.fence).toBe(0);
    // Two workers both read `queued` with token 0 (one of them paused past its job's lock).
    const submitting = (by: string) =>
      store.patch(
        request.id,
        { phase: 'submitting', submittedAt: Date.now() },
        { kind: 'vendor-call', text: `calling arcgis (${by})` },
        { fence: { token: read.fence, phase: 'queued' } },
      );
    expect((await submitting('first')).status).toBe('ok');
    expect((await submitting('second')).status).toBe('fenced');
    const after = (await store.get(request.id))!;
    expect(after.fence).toBe(1);
    expect((await store.timeline(request.id)).map((event) => event.text)).toEqual([
      'requested',
      'started',
      'calling arcgis (first)',
    ]);

    // The token moved on, and the phase is checked too: a write expecting `queued` is refused
    // once the request is `submitting`, even with the current token.
    expect(
      (await store.patch(request.id, { faults: 1 }, undefined, { fence: { token: 1, phase: 'queued' } }))
        .status,
    ).toBe('fenced');
    expect((await store.patch(request.id, { faults: 1 }, undefined, { fence: { token: 1 } })).status).toBe(
      'ok',
    );

    // A run that ended takes no more step writes, whatever the token.
    await store.transition(request.id, ['running'], 'unknown', { kind: 'unknown', text: 'unknown' });
    expect((await store.patch(request.id, { faults: 2 }, undefined, { fence: { token: 2 } })).status).toBe(
      'fenced',
    );
    expect((await store.get(request.id))?.faults).toBe(1);
  });

  it('refuses a fenced transition after another step wrote, and moves the token with its own', async () => {
    const request = await newRequest();
    await store.transition(request.id, ['pending'], 'approved', { kind: 'approved', text: 'approved' });
    const started = await store.transition(
      request.id,
      ['approved'],
      'running',
      { kind: 'running', text: 'started' },
      {},
      { fence: 0 },
    );
    expect(started).toEqual({ ok: true });
    expect((await store.get(request.id))?.fence).toBe(1);
    const stale = await store.transition(
      request.id,
      ['running'],
      'succeeded',
      { kind: 'succeeded', text: 'succeeded' },
      {},
      { fence: 0 },
    );
    expect(stale).toEqual({ ok: false, state: 'fenced' });
    expect((await store.get(request.id))?.state).toBe('running');
  });

  it('keeps every open request in the open index until it ends', async () => {
    const request = await newRequest();
    const due = (at: number) => store.dueOpen(at, 10);
    // A pending request is due once its approval window (and a grace period) has passed.
    expect(await due(Date.now())).toEqual([]);
    expect(await due(request.expiresAt + 120_000)).toEqual([request.id]);
    await store.transition(
      request.id,
      ['pending'],
      'approved',
      { kind: 'approved', text: 'approved' },
      {},
      { openAt: Date.now() + 1_000 },
    );
    expect(await due(Date.now() + 2_000)).toEqual([request.id]);
    await store.nextCheck(request.id, Date.now() + 60_000);
    expect(await due(Date.now() + 2_000)).toEqual([]);
    await store.transition(request.id, ['approved'], 'failed', { kind: 'failed', text: 'failed' });
    expect(await due(Number.MAX_SAFE_INTEGER)).toEqual([]);
    // Looking at an id that is not open any more does not bring it back.
    await store.nextCheck(request.id, Date.now());
    expect(await due(Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it('says a cancel awaits the worker until the worker has acted on it', async () => {
    const request = await newRequest();
    expect(await store.patch(request.id, { faults: 0 })).toMatchObject({ cancelAwaits: false });
    await store.patch(request.id, { cancelRequestedBy: 'U2' });
    expect(await store.patch(request.id, { faults: 0 })).toMatchObject({ cancelAwaits: true });
    expect(await store.patch(request.id, { vendorCancel: 'sending' })).toMatchObject({ cancelAwaits: false });
  });

  it("releases the request's own lock with the ending transition, and never another's", async () => {
    const request = await newRequest();
    const key = locks.key(request, 'd1');
    await store.transition(request.id, ['pending'], 'approved', { kind: 'approved', text: 'approved' });
    await redis.set(key, request.id, 'PX', 60_000);

    const ended = await store.transition(
      request.id,
      ['approved'],
      'succeeded',
      { kind: 'succeeded', text: 'done' },
      { outcome: 'done' },
      { releaseLock: key },
    );
    expect(ended).toEqual({ ok: true });
    expect(await store.get(request.id)).toMatchObject({ state: 'succeeded', version: 3, outcome: 'done' });
    expect(await locks.runningOn(key)).toBeUndefined();

    // Refused (already ended): it says why, and another holder's lock stays.
    await redis.set(key, 'op-other', 'PX', 60_000);
    const again = await store.transition(
      request.id,
      ['approved'],
      'failed',
      { kind: 'failed', text: 'late' },
      {},
      { releaseLock: key },
    );
    expect(again).toEqual({ ok: false, state: 'succeeded' });
    expect(await locks.runningOn(key)).toBe('op-other');
  });

  it('ends a run in one write: its reads, last status, end and closing messages, once; a refused end queues nothing', async () => {
    const request = await newRequest();
    const key = locks.key(request, 'd1');
    await store.transition(request.id, ['pending'], 'running', { kind: 'running', text: 'started' });
    await redis.set(key, request.id, 'PX', 60_000);
    const end = () =>
      store.transition(
        request.id,
        ['running'],
        'succeeded',
        { kind: 'succeeded', text: 'succeeded' },
        { phase: 'done', reported: 3 },
        {
          releaseLock: key,
          audit: [{ kind: 'vendor-call', text: 'GET /jobs/j1 → HTTP 200' }],
          events: [{ kind: 'status', text: 'COMPLETED' }],
          outbox: outbox.batch(request.id, reply('final'), Outbox.root(3)),
        },
      );

    expect(await end()).toMatchObject({ ok: true });
    const queued = await redis.lrange(outbox.listKey(request.id), 0, -1);
    expect(queued.map((item) => (JSON.parse(item) as OutboxItem).key)).toEqual(['final', 'root@3']);
    expect(await store.get(request.id)).toMatchObject({
      state: 'succeeded',
      phase: 'done',
      reported: 3,
      version: 3,
    });
    expect(await locks.runningOn(key)).toBeUndefined();
    const trail = await store.auditTrail(10);
    expect(trail.map((record) => [record.kind, record.text]).reverse()).toEqual([
      ['requested', 'requested'],
      ['running', 'started'],
      ['vendor-call', 'GET /jobs/j1 → HTTP 200'],
      ['status', 'COMPLETED'],
      ['succeeded', 'succeeded'],
    ]);
    expect((await store.timeline(request.id)).map((event) => event.kind)).toEqual([
      'requested',
      'running',
      'status',
      'succeeded',
    ]);

    // Repeated (a step retried after a crash): refused, so no second status, end or message; the
    // vendor read it made happened all the same and is in the audit trail.
    expect(await end()).toMatchObject({ ok: false, state: 'succeeded' });
    expect(await redis.llen(outbox.listKey(request.id))).toBe(2);
    expect((await store.timeline(request.id)).map((event) => event.kind)).toEqual([
      'requested',
      'running',
      'status',
      'succeeded',
    ]);
    expect((await store.auditTrail(10)).map((record) => record.kind)).toEqual([
      'vendor-call',
      'succeeded',
      'status',
      'vendor-call',
      'running',
      'requested',
    ]);
  });
});

describe('request indexes', () => {
  it('drop requests older than the retention period, and expire with the last one added', async () => {
    const retentionMs = 60_000;
    const kept = new RequestStore(redis, prefix, { retentionMs });
    await kept.create({ ...fields(), createdAt: Date.now() - 2 * retentionMs });
    const recent = await kept.create(fields());

    for (const index of [kept.channelIndexKey('C1'), kept.allIndexKey()]) {
      expect(await redis.zrange(index, '0', '-1')).toEqual([recent.id]);
      const ttl = await redis.pttl(index);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(retentionMs);
    }
  });
});
