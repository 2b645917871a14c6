import { Redis } from 'ioredis';
import { type RedisProcess, startRedisServer } from '../../src/devtools/redis-server.js';

/**
 * The bench's Redis: a private redis-server on a free port (never the machine's 6379), or the one
 * REDIS_URL names. Every measurement uses its own key prefix and deletes it afterwards.
 */

export interface BenchRedis {
  url: string;
  client: Redis;
  /** True when the bench started this server (and may start more like it). */
  private: boolean;
  version: string;
  close(): Promise<void>;
}

export async function openBenchRedis(url = process.env.REDIS_URL): Promise<BenchRedis> {
  let server: RedisProcess | undefined;
  if (!url) {
    server = await startRedisServer();
    url = server.url;
  }
  const client = new Redis(url, { maxRetriesPerRequest: null });
  const info = await client.info('server');
  return {
    url,
    client,
    private: server !== undefined,
    version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    close: async () => {
      client.disconnect();
      await server?.destroy();
    },
  };
}

/** Bytes Redis has allocated for data (INFO memory used_memory). */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

/** Removes every key under `prefix:` (BullMQ's keys included, as it uses the same prefix). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

let prefixes = 0;
/** A key prefix no other measurement of this process uses. */
export function freshPrefix(name: string): string {
  prefixes += 1;
  return `bench-${name}-${process.pid}-${prefixes}`;
}

/**
 * Calls per command name since Redis started (INFO commandstats), those made inside Lua scripts
 * included: the difference of two readings says where a change's extra commands come from.
 */
export async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1]!, Number(match[2]));
  }
  return calls;
}

/** The commands called per action between two readings of commandCalls, most called first. */
export function commandMix(before: Map<string, number>, after: Map<string, number>, actions: number) {
  return Object.fromEntries(
    [...after]
      .map(([name, calls]) => [name, (calls - (before.get(name) ?? 0)) / actions] as const)
      .filter(([, perAction]) => perAction >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([name, perAction]) => [name, Number(perAction.toFixed(2))]),
  );
}

/** Commands Redis has processed since it started (INFO stats total_commands_processed). */
export async function commandsProcessed(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}
