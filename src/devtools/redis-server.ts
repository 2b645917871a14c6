import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * A private `redis-server` on a free port, for tests, the sandbox and benchmarks. Never the
 * machine's shared Redis on 6379. Persistence (AOF) can be switched on for restart tests.
 */

export interface RedisProcess {
  url: string;
  port: number;
  dir: string;
  /** Stops the server (SIGKILL if `crash`) and keeps its data directory. */
  stop(options?: { crash?: boolean }): Promise<void>;
  /** Starts it again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startRedisServer(
  options: { persistent?: boolean; extraArgs?: string[] } = {},
): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.persistent ? 'yes' : 'no',
    ...(options.persistent ? ['--appendfsync', 'always'] : []),
    '--maxmemory-policy',
    'noeviction',
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;
  const launch = async () => {
    // Its own process group: a Ctrl-C in the terminal reaches whoever started it, which stops it
    // after its own clean-up; redis-server would otherwise quit at once and leave that clean-up
    // without a Redis.
    child = spawn('redis-server', args, { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    await waitForPing(`redis://127.0.0.1:${port}`);
  };
  await launch().catch((error: Error) => {
    throw new Error(
      `could not start redis-server (is it installed? apt-get install redis-server): ${error.message}`,
    );
  });
  const stop = async ({ crash = false } = {}) => {
    const current = child;
    if (!current || current.exitCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill(crash ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    restart: launch,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPing(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch (error) {
      client.disconnect();
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
