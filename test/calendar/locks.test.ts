import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { StickyLocks } from '../../src/calendar/locks.js';
import { ResourceLocks } from '../../src/requests/resource-lock.js';
import { RequestStore } from '../../src/requests/store.js';
import { deleteKeys } from '../support/harness.js';

/**
 * Sticky locks in Redis: the same keys as running actions' leases, so the lease script (PATCH with
 * `lease.required`, as a submission takes it) refuses others' requests and lets the holder's pass;
 * a whole-target lock covers every resource; taking, extending, taking over and releasing, each one
 * atomic; and every key expires with the lock.
 */

let redis: Redis;
let prefix: string;
let store: RequestStore;
let resourceLocks: ResourceLocks;
let locks: StickyLocks;

beforeEach(() => {
  prefix = `t${randomBytes(5).toString('hex')}`;
  redis = new Redis(inject('redisUrl'));
  store = new RequestStore(redis, prefix);
  resourceLocks = new ResourceLocks(redis, prefix);
  locks = new StickyLocks(redis, prefix, resourceLocks);
});
afterEach(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const HOUR = 3_600_000;
const deployment = { vendor: 'arcgis', target: 'prod', resource: 'd1' };
const wholeTarget = { vendor: 'arcgis', target: 'prod' };

async function requestBy(requester: string) {
  return store.create({
    actionId: 'arcgis.deployment.refresh',
    vendor: 'arcgis',
    target: 'prod',
    args: { deploymentId: 'd1' },
    summary: { fields: [], warnings: [] },
    requester,
    channel: 'C1',
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    highRisk: false,
  });
}

/** A submission's write: it takes the lease of d1 (required), as the submit step does. */
async function submit(request: { id: string; requester: string }) {
  return store.patch(request.id, { phase: 'submitting' }, undefined, {
    lease: {
      key: resourceLocks.key(wholeTarget, 'd1'),
      ms: 600_000,
      required: true,
      owner: request.requester,
      wholeKey: resourceLocks.targetKey(wholeTarget),
    },
  });
}

describe('the lease script with sticky locks', () => {
  it("refuses others' submissions on a locked resource and lets the holder's pass, leaving the lock", async () => {
    const now = Date.now();
    await locks.take(deployment, { user: 'U1', reason: 'debugging', ms: HOUR, takeOver: false }, now);

    const others = await submit(await requestBy('U2'));
    expect(others).toMatchObject({ status: 'locked', lockHolder: 'user:U1' });
    const own = await requestBy('U1');
    expect(await submit(own)).toMatchObject({ status: 'ok' });
    expect((await store.get(own.id))?.phase).toBe('submitting');
    const key = resourceLocks.key(wholeTarget, 'd1');
    expect(await redis.get(key)).toBe('user:U1');
    // What runs there is the holder's request, beside their lock.
    expect(await resourceLocks.runningOn(key)).toBe(own.id);
  });

  it("runs the holder's own requests on a resource under their lock one at a time", async () => {
    await locks.take(deployment, { user: 'U1', reason: 'debugging', ms: HOUR, takeOver: false }, Date.now());
    const first = await requestBy('U1');
    const second = await requestBy('U1');
    expect(await submit(first)).toMatchObject({ status: 'ok', lockHolder: first.id });
    expect(await submit(second)).toMatchObject({ status: 'locked', lockHolder: first.id });

    // The first run ends (releasing its lease), and the second may go; the lock stays the holder's.
    const key = resourceLocks.key(wholeTarget, 'd1');
    await store.transition(
      first.id,
      ['pending'],
      'succeeded',
      { kind: 'succeeded', text: 'done' },
      {},
      {
        releaseLock: key,
      },
    );
    expect(await submit(second)).toMatchObject({ status: 'ok', lockHolder: second.id });
    expect(await redis.get(key)).toBe('user:U1');
    expect(await resourceLocks.runningOn(key)).toBe(second.id);
  });

  it('refuses others on every resource of a target locked whole; the holder takes the resource lease', async () => {
    await locks.take(wholeTarget, { user: 'U1', reason: 'migration', ms: HOUR, takeOver: false }, Date.now());
    expect(await submit(await requestBy('U2'))).toMatchObject({ status: 'locked', lockHolder: 'user:U1' });
    const own = await requestBy('U1');
    expect(await submit(own)).toMatchObject({ status: 'ok' });
    expect(await resourceLocks.runningOn(resourceLocks.key(wholeTarget, 'd1'))).toBe(own.id);
  });

  it('renews a running action’s lease even after someone locks the whole target', async () => {
    const running = await requestBy('U2');
    expect(await submit(running)).toMatchObject({ status: 'ok' });
    await locks.take(wholeTarget, { user: 'U1', reason: 'migration', ms: HOUR, takeOver: false }, Date.now());
    const key = resourceLocks.key(wholeTarget, 'd1');
    await redis.pexpire(key, 1_000);
    await store.patch(running.id, {}, undefined, {
      lease: { key, ms: 600_000, owner: 'U2', wholeKey: resourceLocks.targetKey(wholeTarget) },
    });
    expect(await resourceLocks.runningOn(key)).toBe(running.id);
    expect(await redis.pttl(key)).toBeGreaterThan(500_000);
  });
});

describe('taking and releasing sticky locks', () => {
  it('takes, refuses someone else, extends for the holder, and hands over on a takeover', async () => {
    const now = Date.now();
    const first = await locks.take(
      deployment,
      { user: 'U1', reason: 'debugging', ms: HOUR, takeOver: false },
      now,
    );
    expect(first).toMatchObject({
      kind: 'taken',
      previous: undefined,
      info: { user: 'U1', until: now + HOUR },
    });
    const key = resourceLocks.key(wholeTarget, 'd1');
    for (const held of [key, `${key}:info`]) {
      expect(await redis.pttl(held)).toBeGreaterThan(HOUR - 5_000);
      expect(await redis.pttl(held)).toBeLessThanOrEqual(HOUR);
    }

    expect(
      await locks.take(deployment, { user: 'U2', reason: 'mine', ms: HOUR, takeOver: false }, now),
    ).toMatchObject({
      kind: 'held',
      info: { user: 'U1', reason: 'debugging', since: now },
    });
    expect(
      await locks.take(deployment, { user: 'U1', reason: 'longer', ms: 2 * HOUR, takeOver: false }, now),
    ).toMatchObject({
      kind: 'taken',
      previous: undefined,
      info: { user: 'U1', reason: 'longer', until: now + 2 * HOUR },
    });
    // Extended in Redis too: the lock and its details live on past the first hour.
    expect(await redis.pttl(key)).toBeGreaterThan(HOUR);
    expect(await redis.pttl(`${key}:info`)).toBeGreaterThan(HOUR);
    const takeover = await locks.take(
      deployment,
      { user: 'U2', reason: 'urgent', ms: HOUR, takeOver: true },
      now,
    );
    expect(takeover).toMatchObject({
      kind: 'taken',
      previous: { user: 'U1', reason: 'longer' },
      info: { user: 'U2' },
    });
    expect((await locks.held(now)).map((info) => [info.user, info.resource])).toEqual([['U2', 'd1']]);
  });

  it('refuses a lock on a resource someone else holds the whole target of, or that an action is running on', async () => {
    const now = Date.now();
    await locks.take(wholeTarget, { user: 'U1', reason: 'migration', ms: HOUR, takeOver: false }, now);
    const refused = await locks.take(deployment, { user: 'U2', reason: 'x', ms: HOUR, takeOver: false }, now);
    expect(refused).toMatchObject({ kind: 'held', info: { user: 'U1', reason: 'migration' } });
    expect(refused.kind === 'held' && refused.info.resource).toBeUndefined();
    const running = await requestBy('U3');
    await submit({ ...running, requester: 'U1' });
    expect(await locks.take(deployment, { user: 'U1', reason: 'x', ms: HOUR, takeOver: true }, now)).toEqual({
      kind: 'busy',
      requestId: running.id,
    });
  });

  it('releases only for its holder, or with force; nothing left behind', async () => {
    const now = Date.now();
    await locks.take(deployment, { user: 'U1', reason: 'debugging', ms: HOUR, takeOver: false }, now);
    expect(await locks.release(deployment, 'U2', false)).toEqual({ kind: 'held' });
    expect(await locks.release(deployment, 'U2', true)).toMatchObject({
      kind: 'released',
      info: { user: 'U1' },
    });
    expect(await locks.release(deployment, 'U1', false)).toEqual({ kind: 'none' });
    expect(await locks.held(now)).toEqual([]);
    expect(await redis.exists(resourceLocks.key(wholeTarget, 'd1'))).toBe(0);
  });

  it('lets the lock go by itself when it expires', async () => {
    const now = Date.now();
    await locks.take(deployment, { user: 'U1', reason: 'short', ms: 50, takeOver: false }, now);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await submit(await requestBy('U2'))).toMatchObject({ status: 'ok' });
    expect(await locks.held(Date.now())).toEqual([]);
  });
});
