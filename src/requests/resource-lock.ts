import type { Cluster, Redis } from 'ioredis';
import type { ActionDef } from '../vendors/types.js';
import type { OpsRequest } from './types.js';

/**
 * One action per vendor resource at a time (e.g. one restart per ECE deployment). The lock is a
 * lease in Redis holding the request id, kept by the run step's own writes: taken with the write
 * that records the submission and renewed with each later step (RequestStore.patch, `lease`),
 * released with the ending transition (`releaseLock`), and lapsing by itself if the holder's
 * worker dies, so a crash never leaves a resource locked.
 */

/**
 * Lua: takes the lock if free or already `holder`'s (and extends it); answers the holder's id.
 * A sticky lock (`/ops lock`, src/calendar/locks.ts) holds `user:<id>` in the same key, or in the
 * target's whole-target key `wholeKey`: it blocks every request but those of its holder, `owner`
 * (the request's requester). Under its holder's own sticky lock on the resource, a run's lease is
 * kept in `runKey` instead (the sticky lock stays as it is): one action per resource still holds
 * among the holder's own requests. A lease already held is renewed whatever the whole-target key
 * says: the action runs on. Used by the request store's PATCH.
 */
export const TAKE_LEASE = `
local function takeLease(key, holder, ms, owner, wholeKey, runKey)
  local current = redis.call('GET', key)
  local sticky = owner and ('user:' .. owner)
  if sticky and current == sticky then
    key = runKey
    current = redis.call('GET', key)
  end
  if current ~= holder then
    local whole = wholeKey and redis.call('GET', wholeKey)
    if whole and whole ~= sticky then return whole end
    if current then return current end
  end
  redis.call('SET', key, holder, 'PX', ms)
  return holder
end
`;

/** Where a resource's lock lives, and who holds it (a new request says so up front). */
export class ResourceLocks {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {}

  key(request: Pick<OpsRequest, 'vendor' | 'target'>, resource: string): string {
    return `${this.prefix}:lock:${request.vendor}:${request.target}:${resource}`;
  }

  /** The whole target's lock: only a sticky lock (`/ops lock <target>`) is ever held there. */
  targetKey(request: Pick<OpsRequest, 'vendor' | 'target'>): string {
    return `${this.prefix}:lock:${request.vendor}:${request.target}`;
  }

  /** Where a run's lease is kept while its requester's own sticky lock holds `key`. */
  static runKey(key: string): string {
    return `${key}:run`;
  }

  /**
   * The request running on a resource, if any: the lease in `key`, or, where a sticky lock holds
   * `key` (`user:<id>`), the lease its holder's own run keeps beside it (see TAKE_LEASE). A sticky
   * lock itself is not a request: src/calendar/locks.ts says who holds one.
   */
  async runningOn(key: string): Promise<string | undefined> {
    const held = await this.redis.get(key);
    if (!held?.startsWith('user:')) return held ?? undefined;
    return (await this.redis.get(ResourceLocks.runKey(key))) ?? undefined;
  }
}

/** The resource an action changes: its own `lockKey`, or the first positional argument. */
export function resourceOf(action: ActionDef, args: unknown): string {
  if (action.lockKey) return action.lockKey(args);
  const first = action.params.find((param) => param.kind === 'positional');
  const value = first ? (args as Record<string, unknown>)[first.name] : undefined;
  return Array.isArray(value) ? value.join(',') : String(value ?? '*');
}
