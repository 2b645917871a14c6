import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisSentinel, startRedisSentinel } from '../../src/devtools/redis-sentinel.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * The whole bot behind Redis Sentinel: opsbot knows only the Sentinel's address and the master's
 * name, asks the Sentinel where the master is, and authenticates to both with their own passwords.
 */

const PASSWORD = 'master-password-for-tests';
const SENTINEL_PASSWORD = 'sentinel-password-for-tests';
let sentinel: RedisSentinel;
let arcgis: ArcgisSimulator;

beforeAll(async () => {
  [sentinel, arcgis] = await Promise.all([
    startRedisSentinel({ password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD }),
    startArcgisSimulator(),
  ]);
}, 30_000);
afterAll(async () => {
  await Promise.all([sentinel?.stop(), arcgis?.close()]);
});

describe('opsbot behind Redis Sentinel', () => {
  it('runs an ArcGIS refresh-deployment end to end on the master the Sentinel names', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
    });
    let bot: Harness | undefined;
    try {
      bot = await startHarness({
        env: {
          ARCGIS_PASSWORD: arcgis.password,
          REDIS_PASSWORD: PASSWORD,
          REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
        },
        redis: {
          sentinel: {
            sentinels: sentinel.sentinels,
            masterName: sentinel.masterName,
            password: { env: 'REDIS_PASSWORD' },
            sentinelPassword: { env: 'REDIS_SENTINEL_PASSWORD' },
          },
        },
        targets: {
          arcgis: {
            prod: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } },
          },
        },
      });
      await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
      const requestId = await bot.nextRequestId();
      expect(await bot.click(USERS.approver, 'approve', requestId)).toBe(200);
      await waitFor(() => textOf(bot!.root(requestId)).includes('Succeeded'), 'the root to show success');
      expect(bot.thread(requestId).at(-1)?.text).toContain('Succeeded');
      expect((await bot.opsbot.store.get(requestId))?.state).toBe('succeeded');

      // The data is on the master itself.
      const master = new Redis(sentinel.master.url, { password: PASSWORD });
      try {
        expect(await master.hget(bot.opsbot.store.key(requestId), 'state')).toBe('succeeded');
      } finally {
        master.disconnect();
      }
    } finally {
      await bot?.stop();
    }
  });
});
