import type { TestProject } from 'vitest/node';
import { type RedisProcess, startRedisServer } from '../../src/devtools/redis-server.js';

/** Starts one private redis-server for the whole run (unless REDIS_URL is given) and removes it after. */
let redis: RedisProcess | undefined;

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export async function setup(project: TestProject): Promise<void> {
  const given = process.env.REDIS_URL;
  if (given) {
    project.provide('redisUrl', given);
    return;
  }
  redis = await startRedisServer();
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.destroy();
}
