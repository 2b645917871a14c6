import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, type RedisProcess, startRedisServer } from './redis-server.js';

/**
 * A private Redis master watched by one Sentinel (`redis-server --sentinel`), for tests. One
 * Sentinel with quorum 1 is enough to find the master; it is not a failover rig.
 */

export interface RedisSentinelOptions {
  /** The name the Sentinel knows the master by. Default `opsbot-master`. */
  masterName?: string;
  /** When set, the master requires this password (and the Sentinel uses it). */
  password?: string;
  /** When set, the Sentinel itself requires this password. */
  sentinelPassword?: string;
}

export interface RedisSentinel {
  /** The Sentinel as `host:port`, as `redis.sentinel.sentinels` takes it. */
  sentinels: string[];
  masterName: string;
  master: RedisProcess;
  /** Stops the Sentinel and the master and removes their directories. */
  stop(): Promise<void>;
}

export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinel> {
  const masterName = options.masterName ?? 'opsbot-master';
  const master = await startRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-sentinel-'));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await master.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (options.password) {
      const admin = new Redis(master.url, { maxRetriesPerRequest: 1 });
      await admin.config('SET', 'requirepass', options.password).finally(() => admin.disconnect());
    }
    const port = await freePort();
    const configFile = join(dir, 'sentinel.conf');
    // Sentinel rewrites its config file as it learns, so it must be its own, writable one.
    writeFileSync(
      configFile,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${masterName} 5000`,
        ...(options.password ? [`sentinel auth-pass ${masterName} ${options.password}`] : []),
        ...(options.sentinelPassword ? [`requirepass ${options.sentinelPassword}`] : []),
        '',
      ].join('\n'),
    );
    child = spawn('redis-server', [configFile, '--sentinel'], { stdio: 'ignore' });
    const spawned = new Promise<never>((_, reject) =>
      child?.once('error', (error) =>
        reject(new Error(`could not start redis-server --sentinel (is Redis installed?): ${error.message}`)),
      ),
    );
    await Promise.race([spawned, untilMasterKnown(port, masterName, options.sentinelPassword)]);
    return { sentinels: [`127.0.0.1:${port}`], masterName, master, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits until the Sentinel answers and names the master. */
async function untilMasterKnown(port: number, masterName: string, password?: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new Redis({
      port,
      host: '127.0.0.1',
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      const address = await client.call('SENTINEL', 'get-master-addr-by-name', masterName);
      if (Array.isArray(address)) return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`the Sentinel on port ${port} does not know ${masterName}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
