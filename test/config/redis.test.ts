import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type LoadOptions, loadConfig } from '../../src/config/load.js';
import { scrubSecrets } from '../../src/config/secret.js';
import { problemsOf } from './problems.js';

/** The `redis` section: standalone URL (default), Sentinel or Cluster, each validated by key. */

const ENV = {
  T: 'xoxb-1',
  S: 'signing-secret',
  REDIS_PASSWORD: 'redis-pw-1',
  SENTINEL_PASSWORD: 'sent-pw-1',
};

function load(redis: unknown, env: LoadOptions['env'] = {}) {
  return loadConfig({
    env: { ...ENV, ...env },
    document: {
      slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
      ...(redis === undefined ? {} : { redis }),
      policy: { channels: ['*'] },
    },
  });
}

describe('redis configuration', () => {
  it('defaults to a standalone Redis on localhost, and REDIS_URL overrides the URL', () => {
    expect(load(undefined).redis).toEqual({
      mode: 'standalone',
      url: 'redis://127.0.0.1:6379',
      prefix: 'opsbot',
    });
    expect(load({ prefix: 'ops' }, { REDIS_URL: 'redis://10.0.0.9:6380' }).redis).toEqual({
      mode: 'standalone',
      url: 'redis://10.0.0.9:6380',
      prefix: 'ops',
    });
  });

  it('takes the password out of a Redis URL as a secret: the URL left is safe to show', () => {
    const fromFile = load({ url: 'redis://opsbot:p%40ss-in-url-9@10.0.0.9:6380/2?family=4' }).redis;
    const fromEnv = load(undefined, { REDIS_URL: 'rediss://:p%40ss-in-url-9@redis.internal:6380' }).redis;
    expect(fromFile).toMatchObject({ mode: 'standalone', url: 'redis://opsbot@10.0.0.9:6380/2?family=4' });
    expect(fromEnv).toMatchObject({ mode: 'standalone', url: 'rediss://redis.internal:6380' });
    for (const redis of [fromFile, fromEnv]) {
      if (redis.mode !== 'standalone') throw new Error('expected standalone');
      expect(redis.password?.reveal()).toBe('p@ss-in-url-9');
      expect(JSON.stringify(redis)).not.toContain('ss-in-url');
      expect(inspect(redis, { depth: 5 })).not.toContain('ss-in-url');
    }
    // Known to the scrubber like any configured secret, should the whole URL ever be printed.
    expect(scrubSecrets('redis://:p@ss-in-url-9@10.0.0.9:6380')).toBe('redis://:••••@10.0.0.9:6380');
  });

  it('refuses a Redis URL it cannot read, without echoing it', () => {
    expect(problemsOf(() => load({ url: 'redis://:pw-in-broken-url@host:99999' }))).toEqual([
      'redis.url: is not a valid URL (redis://[user:password@]host:port[/db])',
    ]);
  });

  it('reads Sentinel: sentinels as host:port, the master name and both passwords as secrets', () => {
    const { redis } = load({
      sentinel: {
        sentinels: ['sentinel-1:26379', '10.0.0.2:26380', '[::1]:26381'],
        masterName: 'opsbot-master',
        password: { env: 'REDIS_PASSWORD' },
        sentinelPassword: { env: 'SENTINEL_PASSWORD' },
      },
    });
    expect(redis).toMatchObject({
      mode: 'sentinel',
      masterName: 'opsbot-master',
      prefix: 'opsbot',
      sentinels: [
        { host: 'sentinel-1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
    });
    if (redis.mode !== 'sentinel') throw new Error('expected sentinel');
    expect(redis.password?.reveal()).toBe('redis-pw-1');
    expect(redis.sentinelPassword?.reveal()).toBe('sent-pw-1');
    expect(JSON.stringify(redis)).not.toContain('pw-1');
  });

  it('reads Cluster: startup nodes and a password secret, with a hash-tagged prefix', () => {
    const { redis } = load({
      cluster: { nodes: ['redis-1:6379', 'redis-2:6379'], password: { env: 'REDIS_PASSWORD' } },
      prefix: '{opsbot}',
    });
    expect(redis).toMatchObject({
      mode: 'cluster',
      prefix: '{opsbot}',
      nodes: [
        { host: 'redis-1', port: 6379 },
        { host: 'redis-2', port: 6379 },
      ],
    });
    if (redis.mode !== 'cluster') throw new Error('expected cluster');
    expect(redis.password?.reveal()).toBe('redis-pw-1');
  });

  it('names the key of every mistake', () => {
    expect(
      problemsOf(() =>
        load({
          sentinel: { sentinels: ['no-port', 'h:70000'], password: 'inline-password' },
        }),
      ),
    ).toEqual(
      expect.arrayContaining([
        'redis.sentinel.sentinels.0: must be host:port',
        'redis.sentinel.sentinels.1: port must be 1-65535',
        'redis.sentinel.masterName: is required',
        expect.stringMatching(/^redis\.sentinel\.password: must be a secret reference/),
      ]),
    );
    expect(problemsOf(() => load({ cluster: { nodes: [] }, prefix: '{opsbot}' }))).toEqual([
      expect.stringMatching(/^redis\.cluster\.nodes: /),
    ]);
    expect(problemsOf(() => load({ cluster: { nodes: ['a:1'], seeds: [] }, prefix: '{o}' }))).toEqual([
      'redis.cluster: unknown key(s) seeds',
    ]);
  });

  it('refuses two ways of reaching Redis at once, REDIS_URL included', () => {
    const cluster = { nodes: ['redis-1:6379'] };
    expect(problemsOf(() => load({ cluster, prefix: '{o}' }, { REDIS_URL: 'redis://r:6379' }))).toEqual([
      'redis: set only one of url, sentinel and cluster (got url (or REDIS_URL) and cluster)',
    ]);
    expect(
      problemsOf(() =>
        load({ cluster, sentinel: { sentinels: ['s:26379'], masterName: 'm' }, prefix: '{o}' }),
      ),
    ).toEqual(['redis: set only one of url, sentinel and cluster (got sentinel and cluster)']);
  });
});
