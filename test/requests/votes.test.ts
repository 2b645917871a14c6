import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { RequestStore } from '../../src/requests/store.js';
import { deleteKeys } from '../support/harness.js';

/**
 * The VOTE script on its own (RequestStore.vote), on a real Redis: one vote per person, counted
 * only against the tally its caller saw, approving in the same step as the vote that meets the
 * quorum, and refusing votes on a request that is decided, expired or missing. The races that
 * rest on it are in test/faults/quorum-race.test.ts.
 */

let redis: Redis;
let prefix: string;
let store: RequestStore;

beforeEach(() => {
  prefix = `t${randomBytes(5).toString('hex')}`;
  redis = new Redis(inject('redisUrl'));
  store = new RequestStore(redis, prefix);
});
afterEach(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

async function pendingRequest(expiresIn = 60_000) {
  return store.create({
    actionId: 'ece.resource.restart',
    vendor: 'ece',
    target: 'prod',
    args: { deployment: 'd1', kind: 'kibana' },
    summary: { fields: [{ label: 'Deployment', value: 'd1' }], warnings: [] },
    requester: 'U0REQ',
    channel: 'C1',
    createdAt: Date.now(),
    expiresAt: Date.now() + expiresIn,
    highRisk: true,
  });
}

const ballot = (user: string, eligible = [0]) => ({ user, eligible, at: Date.now() });
const notMet = { met: false, fields: {} };

describe('a vote', () => {
  it('is recorded once per person, with its audit record, and leaves the request pending', async () => {
    const request = await pendingRequest();
    expect(await store.vote(request.id, ballot('U0BOB'), 0, notMet)).toBe('counted');
    expect(await store.vote(request.id, ballot('U0BOB'), 1, notMet)).toBe('voted');

    const after = await store.get(request.id);
    expect(after?.state).toBe('pending');
    expect(after?.votes.map((vote) => vote.user)).toEqual(['U0BOB']);
    expect(after?.version).toBe(request.version + 1);
    expect((await store.timeline(request.id)).map((event) => event.kind)).toEqual(['requested', 'vote']);
    expect(await store.pendingEnqueues()).toEqual([]);
  });

  it('is refused when another vote came in after its caller tallied, and changes nothing', async () => {
    const request = await pendingRequest();
    expect(await store.vote(request.id, ballot('U0BOB'), 0, notMet)).toBe('counted');
    // Dave's caller tallied before Bob's vote landed: it must tally again.
    expect(await store.vote(request.id, ballot('U0DAVE', [1]), 0, { met: true, fields: {} })).toBe('changed');

    const after = await store.get(request.id);
    expect(after?.state).toBe('pending');
    expect(after?.votes.map((vote) => vote.user)).toEqual(['U0BOB']);
    expect(await store.pendingEnqueues()).toEqual([]);
  });

  it('that meets the quorum approves the request in the same step and marks its run to be queued', async () => {
    const request = await pendingRequest();
    await store.vote(request.id, ballot('U0BOB'), 0, notMet);
    const openAt = Date.now() + 5_000;
    const answer = await store.vote(request.id, ballot('U0DAVE', [1]), 1, {
      met: true,
      fields: { approver: 'U0DAVE', decidedAt: Date.now() },
      openAt,
    });
    expect(answer).toBe('approved');

    const after = await store.get(request.id);
    expect(after?.state).toBe('approved');
    expect(after?.approver).toBe('U0DAVE');
    expect(after?.votes.map((vote) => [vote.user, vote.eligible])).toEqual([
      ['U0BOB', [0]],
      ['U0DAVE', [1]],
    ]);
    expect(await store.pendingEnqueues()).toEqual([request.id]);
    expect(await store.dueOpen(openAt, 10)).toContain(request.id);
    expect((await store.timeline(request.id)).map((event) => event.kind)).toEqual([
      'requested',
      'vote',
      'approved',
    ]);
    // Decided: a later vote, even one that would meet a quorum, changes nothing.
    expect(await store.vote(request.id, ballot('U0ERIN'), 2, { met: true, fields: {} })).toBe('decided');
    expect((await store.get(request.id))?.votes).toHaveLength(2);
  });

  it('on an expired request or one that does not exist is refused and writes nothing', async () => {
    const request = await pendingRequest(1_000);
    const later = Date.now() + 2_000;
    expect(await store.vote(request.id, ballot('U0BOB'), 0, { met: true, fields: {} }, later)).toBe('late');
    expect((await store.get(request.id))?.votes).toEqual([]);
    expect((await store.get(request.id))?.state).toBe('pending');

    expect(await store.vote('op-nosuch1', ballot('U0BOB'), 0, notMet)).toBe('missing');
    expect(await redis.exists(store.key('op-nosuch1'), store.votesKey('op-nosuch1'))).toBe(0);
  });
});
