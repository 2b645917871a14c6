import type { Cluster, Redis } from 'ioredis';
import type { ActionDef } from '../vendors/types.js';
import type { OpsRequest } from './types.js';

/**
 * One action per vendor resource at a time (e.g. one restart per ECE deployment). The lock is a
 * lease in Redis holding the request id: renewed at every step of the holder, released at its end,
 * and lapsing by itself if the holder's worker dies, so a crash never leaves a resource locked.
 */

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** Takes the lock if free or already ours (and extends it); returns the holder's id. */
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if not holder or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return holder
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
