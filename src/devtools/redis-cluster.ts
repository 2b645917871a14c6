import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, type RedisProcess, startRedisServer } from './redis-server.js';

/**
 * A private Redis Cluster on free ports, for tests: each master a `redis-server` with cluster
 * mode on, its own temp directory and no persistence. Never the machine's shared Redis.
 */

export interface RedisClusterOptions {
  /** Masters, sharing the 16,384 slots. Default 3, the fewest `redis-cli --cluster create` takes. */
  masters?: number;
  /** When set, every node requires this password once the cluster has formed. */
  password?: string;
  /**
   * How the nodes are joined: `redis-cli --cluster create` (the default when redis-cli is
   * installed), or CLUSTER ADDSLOTSRANGE and CLUSTER MEET sent by opsbot itself.
   */
  join?: 'redis-cli' | 'commands';
}

export interface RedisCluster {
  /** The nodes as `host:port`, as `redis.cluster.nodes` takes them. */
  nodes: string[];
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

const SLOTS = 16_384;
const run = promisify(execFile);

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  requireRedis7();
  const masters = options.masters ?? 3;
  const join = options.join ?? (installed('redis-cli') ? 'redis-cli' : 'commands');
  const servers: Array<{ server: RedisProcess; busPort: number }> = [];
  const stop = async () => {
    await Promise.all(servers.map(({ server }) => server.destroy()));
  };
  try {
    // One at a time: free ports are found by binding port 0, so parallel starts could collide.
    for (let i = 0; i < masters; i += 1) {
      const busPort = await freePort();
      const server = await startRedisServer({
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-port', String(busPort)],
      });
      servers.push({ server, busPort });
    }
    const nodes = servers.map(({ server }) => `127.0.0.1:${server.port}`);
    if (join === 'redis-cli') {
      await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-yes'], { timeout: 30_000 });
    } else {
      await joinWithCommands(servers);
    }
    await untilClusterOk(servers.map(({ server }) => server.url));
    if (options.password) await requirePassword(servers, options.password);
    return { nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Gives each node an equal run of slots, then introduces every node to the first. */
async function joinWithCommands(servers: Array<{ server: RedisProcess; busPort: number }>): Promise<void> {
  await withClients(
    servers.map(({ server }) => server.url),
    async (clients) => {
      const share = Math.ceil(SLOTS / clients.length);
      await Promise.all(
        clients.map((client, i) =>
          client.call('CLUSTER', 'ADDSLOTSRANGE', i * share, Math.min(SLOTS, (i + 1) * share) - 1),
        ),
      );
      for (const { server, busPort } of servers.slice(1)) {
        await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', server.port, busPort);
      }
    },
  );
}

/** Waits until every node says the cluster is ok: all slots served and every node known. */
async function untilClusterOk(urls: string[]): Promise<void> {
  await withClients(urls, async (clients) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const infos = await Promise.all(clients.map((client) => client.cluster('INFO')));
      const ok = infos.every(
        (info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${urls.length}`),
      );
      if (ok) return;
      if (Date.now() > deadline)
        throw new Error(`the local Redis Cluster did not reach cluster_state:ok:\n${infos.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
}

async function requirePassword(servers: Array<{ server: RedisProcess }>, password: string): Promise<void> {
  await withClients(
    servers.map(({ server }) => server.url),
    async (clients) => {
      await Promise.all(
        clients.map((client) => client.config('SET', 'masterauth', password, 'requirepass', password)),
      );
    },
  );
}

/** Plain clients to single nodes (not a Cluster client: these talk to one node each). */
async function withClients<T>(urls: string[], use: (clients: Redis[]) => Promise<T>): Promise<T> {
  const clients = urls.map((url) => new Redis(url, { maxRetriesPerRequest: 1 }));
  try {
    return await use(clients);
  } finally {
    for (const client of clients) client.disconnect();
  }
}

function installed(binary: string): boolean {
  return spawnSync(binary, ['--version']).error === undefined;
}

/** Cluster mode with `--cluster-port` and CLUSTER ADDSLOTSRANGE need Redis 7. */
function requireRedis7(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    throw new Error(
      'redis-server is not installed or not on PATH: a local Redis Cluster needs Redis 7 or later (apt-get install redis-server)',
    );
  }
  const major = Number(/v=(\d+)\./.exec(probe.stdout)?.[1] ?? 0);
  if (major < 7)
    throw new Error(`a local Redis Cluster needs redis-server 7 or later, found: ${probe.stdout.trim()}`);
}
