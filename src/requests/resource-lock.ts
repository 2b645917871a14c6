import type { Cluster, Redis } from 'ioredis';
import type { ActionDef } from '../vendors/types.js';
import type { OpsRequest } from './types.js';

/**
 * One action per vendor resource at a time (e.g. one restart per ECE deployment). The lock is a
 * lease in Redis holding the request id: renewed at every step of the holder, released at its end,
 * and lapsing by itself if the holder's worker dies, so a crash never leaves a resource locked.
 */

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/**
 * Lua: takes the lock if free or already `holder`'s (and extends it); answers the holder's id.
 * Also used by the request store's PATCH, which renews a lease with a step's write.
 */
export const TAKE_LEASE = `
local function takeLease(key, holder, ms)
  local current = redis.call('GET', key)
  if current and current ~= holder then return current end
  redis.call('SET', key, holder, 'PX', ms)
  return holder
end
`;
const ACQUIRE = `${TAKE_LEASE}
return takeLease(KEYS[1], ARGV[1], ARGV[2])
`;

export class ResourceLocks {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {
    redis.defineCommand('opsLockAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    redis.defineCommand('opsLockRelease', { numberOfKeys: 1, lua: RELEASE });
  }

  key(request: Pick<OpsRequest, 'vendor' | 'target'>, resource: string): string {
    return `${this.prefix}:lock:${request.vendor}:${request.target}:${resource}`;
  }

  /** Takes or renews the lock for `leaseMs`. Returns the id of whoever holds it afterwards. */
  async acquire(key: string, requestId: string, leaseMs: number): Promise<string> {
    return (this.redis as unknown as { opsLockAcquire(...a: string[]): Promise<string> }).opsLockAcquire(
      key,
      requestId,
      String(Math.ceil(leaseMs)),
    );
  }

  async holder(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  async release(key: string, requestId: string): Promise<void> {
    await (
      this.redis as unknown as { opsLockRelease(key: string, holder: string): Promise<number> }
    ).opsLockRelease(key, requestId);
  }
}

/** The resource an action changes: its own `lockKey`, or the first positional argument. */
export function resourceOf(action: ActionDef, args: unknown): string {
  if (action.lockKey) return action.lockKey(args);
  const first = action.params.find((param) => param.kind === 'positional');
  const value = first ? (args as Record<string, unknown>)[first.name] : undefined;
  return Array.isArray(value) ? value.join(',') : String(value ?? '*');
}
