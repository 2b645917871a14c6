import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type RedisProcess, startRedisServer } from '../../src/devtools/redis-server.js';

/**
 * Checks that the machine has what the suite needs, then starts one private redis-server for the
 * whole run (unless REDIS_URL is given) and removes it after. Anything missing ends the run at
 * once with one sentence saying what to install, rather than a stack trace per test file.
 */
let redis: RedisProcess | undefined;

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** The Chromium the browser test drives: CHROMIUM_PATH, or `chromium` on the PATH. */
    chromiumPath: string;
  }
}

const INSTALL = 'apt-get install redis-server chromium';

export async function setup(project: TestProject): Promise<void> {
  const given = process.env.REDIS_URL;
  const chromium = process.env.CHROMIUM_PATH || onPath('chromium');
  const missing = [
    !given && !onPath('redis-server') && 'redis-server',
    !(chromium && isExecutable(chromium)) &&
      (process.env.CHROMIUM_PATH
        ? `chromium (CHROMIUM_PATH=${process.env.CHROMIUM_PATH} is not an executable)`
        : 'chromium'),
  ].filter(Boolean);
  if (missing.length > 0) stop(`npm test needs ${missing.join(' and ')}: ${INSTALL}`);
  project.provide('chromiumPath', chromium!);
  if (given) {
    project.provide('redisUrl', given);
    return;
  }
  try {
    redis = await startRedisServer();
  } catch (error) {
    stop(`npm test could not start redis-server (${(error as Error).message})`);
  }
  project.provide('redisUrl', redis!.url);
}

export async function teardown(): Promise<void> {
  await redis?.destroy();
}

function onPath(name: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, name))
    .find(isExecutable);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Ends the run with one sentence: vitest would print a thrown error with its stack and code frame. */
function stop(sentence: string): never {
  process.stderr.write(`${sentence}\n`);
  process.exit(1);
}
