import type { Socket } from 'node:net';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditChainStore } from '../../src/audit/chain-store.js';
import { verifyAuditChain } from '../../src/audit/verify.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { type RedisCluster, startRedisCluster } from '../../src/devtools/redis-cluster.js';
import { type NewRequest, RequestStore } from '../../src/requests/store.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { deleteKeys, type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';
import { countSocketWrites } from '../support/socket-writes.js';

/**
 * The whole bot on a real 3-master Redis Cluster started by the test: every Lua script, MULTI and
 * BullMQ script must keep its keys in one slot, which the hash-tagged prefix guarantees.
 */

const PASSWORD = 'cluster-password-for-tests';
let cluster: RedisCluster;
let arcgis: ArcgisSimulator;

beforeAll(async () => {
  [cluster, arcgis] = await Promise.all([startRedisCluster({ password: PASSWORD }), startArcgisSimulator()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([cluster?.stop(), arcgis?.close()]);
});

describe('opsbot on Redis Cluster', () => {
  it('runs an ArcGIS refresh-deployment from slash command to the final root update', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 2 } },
    });
    let bot: Harness | undefined;
    try {
      bot = await startHarness({
        env: { ARCGIS_PASSWORD: arcgis.password, REDIS_PASSWORD: PASSWORD },
        redis: { cluster: { nodes: cluster.nodes, password: { env: 'REDIS_PASSWORD' } } },
        targets: {
          arcgis: {
            prod: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } },
          },
        },
        audit: { sealEvery: '30ms' },
      });
      expect(bot.prefix).toMatch(/^\{t[0-9a-f]+\}$/);

      const sent = await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
      expect(sent.status).toBe(200);
      const requestId = await bot.nextRequestId();
      expect(textOf(bot.root(requestId))).toContain('Waiting for approval');

      expect(await bot.click(USERS.approver, 'approve', requestId)).toBe(200);
      await waitFor(() => textOf(bot!.root(requestId)).includes('Succeeded'), 'the root to show success');

      const texts = bot.thread(requestId).map((m) => m.text);
      expect(texts[0]).toContain('Submitted to arcgis/prod');
      expect(texts.filter((t) => t.includes('Status *EXECUTING*'))).toHaveLength(1);
      expect(texts.at(-1)).toContain('Succeeded');
      expect(JSON.stringify(bot.root(requestId)!.blocks)).not.toContain('ops_approve');
      expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);

      expect((await fetch(`${bot.opsbot.url}/readyz`)).status).toBe(200);
      const stored = await bot.opsbot.store.get(requestId);
      expect(stored?.state).toBe('succeeded');
      expect((await bot.opsbot.store.timeline(requestId)).map((e) => e.kind)).toContain('requested');

      // It really ran on the cluster: the request and the BullMQ job live there, in one slot.
      expect(bot.redis).toBeInstanceOf(Cluster);
      const slot = async (key: string) => Number(await bot!.redis.call('CLUSTER', 'KEYSLOT', key));
      expect(await bot.redis.exists(bot.opsbot.store.key(requestId))).toBe(1);
      expect(await bot.redis.exists(`${bot.prefix}:opsbot-actions:run-${requestId}`)).toBe(1);
      expect(await slot(`${bot.prefix}:opsbot-actions:run-${requestId}`)).toBe(
        await slot(bot.opsbot.store.key(requestId)),
      );

      // Its audit trail is sealed there too (the chain's scripts name keys of the same slot).
      const chain = new AuditChainStore(bot.redis, bot.opsbot.store.auditKey(), 86_400_000);
      await waitFor(async () => (await chain.unsealedCount()) === 0, 'the audit trail to be sealed');
      expect(await verifyAuditChain(chain)).toMatchObject({ problems: [], head: expect.anything() });

      // Its node connections send one turn's commands in one write (jobs/write-batching.ts).
      // (Nodes connect lazily: the one holding the prefix's slot is connected by now.)
      const sockets = (bot.redis as Cluster)
        .nodes()
        .flatMap((node) => (node.stream ? [node.stream as Socket] : []));
      const key = `${bot.prefix}:batching`;
      const { writes, answer } = await countSocketWrites(sockets, () =>
        Promise.all(Array.from({ length: 100 }, () => bot!.redis.incr(key))),
      );
      expect(answer.at(-1)).toBe(100);
      expect(writes).toBe(1);
    } finally {
      await bot?.stop();
    }
  });

  it('needs the hash tag: without it the cluster refuses the request scripts (CROSSSLOT)', async () => {
    const redis = new Cluster(cluster.nodes, { redisOptions: { password: PASSWORD } });
    const request: NewRequest = {
      actionId: 'arcgis.deployment.refresh',
      vendor: 'arcgis',
      target: 'prod',
      args: {},
      summary: { fields: [], warnings: [] },
      channel: 'C0OPSCHAN1',
      requester: USERS.requester,
      createdAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      highRisk: false,
    };
    try {
      await expect(new RequestStore(redis, 'untagged').create(request)).rejects.toThrow(/CROSSSLOT/);
      const created = await new RequestStore(redis, '{tagged}').create(request);
      expect(created.state).toBe('pending');
    } finally {
      await deleteKeys(redis, '{tagged}');
      redis.disconnect();
    }
  });

  it('refuses a cluster config whose prefix has no hash tag, naming redis.prefix', () => {
    const refused = (prefix?: string) => {
      try {
        loadConfig({
          env: { T: 'xoxb-1', S: 'signing-secret' },
          document: {
            slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
            redis: { cluster: { nodes: cluster.nodes }, ...(prefix === undefined ? {} : { prefix }) },
            policy: { channels: ['*'] },
          },
        });
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };
    for (const prefix of [undefined, 'opsbot', 'ops{}bot', 'ops{bot']) {
      expect(refused(prefix)).toEqual([
        expect.stringMatching(
          /^redis\.prefix: must contain a hash tag such as \{opsbot\} when redis\.cluster/,
        ),
      ]);
    }
    expect(refused('{opsbot}')).toEqual([]);
  });
});

describe('the local Redis Cluster', () => {
  it('also forms without redis-cli, with CLUSTER ADDSLOTSRANGE and CLUSTER MEET', async () => {
    const joined = await startRedisCluster({ join: 'commands' });
    const redis = new Cluster(joined.nodes);
    try {
      // Keys in slots owned by different masters are all reachable.
      const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
      await Promise.all(keys.map((key) => redis.set(key, key)));
      expect(await Promise.all(keys.map((key) => redis.get(key)))).toEqual(keys);
      expect(redis.nodes('master')).toHaveLength(3);
    } finally {
      redis.disconnect();
      await joined.stop();
    }
  }, 60_000);
});
