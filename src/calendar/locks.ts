import type { Cluster, Redis } from 'ioredis';
import type { ResourceLocks } from '../requests/resource-lock.js';
import { NAMED_ARGS, namedArgs } from '../requests/script-args.js';

/**
 * Sticky locks (`/ops lock`): a person keeps others' actions off one resource of a target, or off
 * the whole target, for a while. A lock is the record running actions' leases use
 * (`ResourceLocks.key`, or `ResourceLocks.targetKey` for the whole target), holding `user:<id>`, so
 * the lease script (TAKE_LEASE) refuses everyone's actions but the holder's. Beside it, `…:info`
 * says who, why, since and until; both expire together (Redis TTLs: a dead process leaves nothing
 * held), and an index scored by expiry lists them (`/ops locks`).
 */

export interface LockInfo {
  vendor: string;
  target: string;
  /** Undefined: the whole target. */
  resource: string | undefined;
  user: string;
  reason: string;
  since: number;
  until: number;
}

export type TakeResult =
  | { kind: 'taken'; info: LockInfo; previous: LockInfo | undefined }
  /** Someone else holds it (on the resource, or the whole target). */
  | { kind: 'held'; info: LockInfo }
  /** A running action holds its lease. */
  | { kind: 'busy'; requestId: string };

/** The holder a lock key holds for a person's sticky lock. */
export function stickyHolder(user: string): string {
  return `user:${user}`;
}

/**
 * Takes (or extends, or with `takeOver` takes from someone else) a sticky lock, unless a running
 * action holds its lease, or someone else holds it or the whole target. Answers
 * {'taken', previous info} / {'held', holder info} / {'busy', request id}.
 * KEYS: lock, info, index, [whole, wholeInfo] (a resource's lock: its target's).
 */
const TAKE = `${NAMED_ARGS}
if K.whole then
  local whole = redis.call('GET', K.whole)
  if whole and whole ~= A.holder then return {'held', redis.call('GET', K.wholeInfo) or ''} end
end
local current = redis.call('GET', K.lock)
if current and string.sub(current, 1, 5) ~= 'user:' then return {'busy', current} end
local previous = redis.call('GET', K.info) or ''
if current and current ~= A.holder and not A.takeOver then return {'held', previous} end
redis.call('SET', K.lock, A.holder, 'PX', A.ms)
redis.call('SET', K.info, A.info, 'PX', A.ms)
redis.call('ZADD', K.index, A.expires, K.lock)
return {'taken', previous}
`;

/**
 * Releases a sticky lock held by `holder` (any sticky lock with `force`); answers the info it had,
 * '' if there was none to release, or 'held' if someone else holds it.
 * KEYS: lock, info, index.
 */
const RELEASE = `${NAMED_ARGS}
local current = redis.call('GET', K.lock)
if not current or string.sub(current, 1, 5) ~= 'user:' then return '' end
if current ~= A.holder and not A.force then return 'held' end
local info = redis.call('GET', K.info) or ''
redis.call('DEL', K.lock, K.info)
redis.call('ZREM', K.index, K.lock)
return info
`;

interface Scripts {
  opsStickyTake(keyCount: number, ...args: string[]): Promise<[string, string]>;
  opsStickyRelease(keyCount: number, ...args: string[]): Promise<string>;
}

export interface LockPlace {
  vendor: string;
  target: string;
  resource?: string | undefined;
}

export class StickyLocks {
  readonly #scripts: Scripts;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly locks: ResourceLocks,
  ) {
    if (!('opsStickyTake' in redis)) {
      redis.defineCommand('opsStickyTake', { lua: TAKE });
      redis.defineCommand('opsStickyRelease', { lua: RELEASE });
    }
    this.#scripts = redis as unknown as Scripts;
  }

  keyOf(place: LockPlace): string {
    return place.resource === undefined ? this.locks.targetKey(place) : this.locks.key(place, place.resource);
  }

  /** Sticky locks' keys, scored by their expiry. */
  indexKey(): string {
    return `${this.prefix}:sticky-locks`;
  }

  async take(
    place: LockPlace,
    lock: { user: string; reason: string; ms: number; takeOver: boolean },
    now: number,
  ): Promise<TakeResult> {
    const key = this.keyOf(place);
    const info: LockInfo = {
      vendor: place.vendor,
      target: place.target,
      resource: place.resource,
      user: lock.user,
      reason: lock.reason,
      since: now,
      until: now + lock.ms,
    };
    const whole = place.resource === undefined ? undefined : this.locks.targetKey(place);
    const [kind, detail] = await this.#scripts.opsStickyTake(
      ...namedArgs(
        {
          lock: key,
          info: `${key}:info`,
          index: this.indexKey(),
          whole,
          wholeInfo: whole && `${whole}:info`,
        },
        {
          holder: stickyHolder(lock.user),
          info: JSON.stringify(info),
          ms: lock.ms,
          expires: info.until,
          takeOver: lock.takeOver || undefined,
        },
      ),
    );
    if (kind === 'busy') return { kind, requestId: detail };
    const other = decode(detail);
    if (kind === 'held') return { kind, info: other ?? { ...info, user: '?', reason: '' } };
    // Held by the same person before: an extension, not a takeover.
    return { kind: 'taken', info, previous: other?.user === lock.user ? undefined : other };
  }

  /** Releases a lock: its holder's, or anyone's with `force`. */
  async release(
    place: LockPlace,
    user: string,
    force: boolean,
  ): Promise<{ kind: 'released'; info: LockInfo } | { kind: 'none' } | { kind: 'held' }> {
    const key = this.keyOf(place);
    const answer = await this.#scripts.opsStickyRelease(
      ...namedArgs(
        { lock: key, info: `${key}:info`, index: this.indexKey() },
        { holder: stickyHolder(user), force: force || undefined },
      ),
    );
    if (answer === 'held') return { kind: 'held' };
    const info = decode(answer);
    return info ? { kind: 'released', info } : { kind: 'none' };
  }

  /** The sticky lock held on this key, if any. */
  async info(key: string): Promise<LockInfo | undefined> {
    return decode(await this.redis.get(`${key}:info`));
  }

  /**
   * The sticky lock that keeps `requester` off a resource: on the resource itself, or on its whole
   * target, held by someone else. A holder's own locks never keep them off.
   */
  async blocking(place: LockPlace & { resource: string }, requester: string): Promise<LockInfo | undefined> {
    for (const key of [this.locks.targetKey(place), this.locks.key(place, place.resource)]) {
      const info = await this.info(key);
      if (info && info.user !== requester) return info;
    }
    return undefined;
  }

  /** Every sticky lock held at `now`, soonest to expire first. */
  async held(now: number): Promise<LockInfo[]> {
    await this.redis.zremrangebyscore(this.indexKey(), '-inf', now);
    const keys = await this.redis.zrange(this.indexKey(), '0', '-1');
    if (keys.length === 0) return [];
    const raws = await this.redis.mget(...keys.map((key) => `${key}:info`));
    return raws.flatMap((raw) => decode(raw) ?? []);
  }
}

function decode(raw: string | null | undefined): LockInfo | undefined {
  return raw ? (JSON.parse(raw) as LockInfo) : undefined;
}
