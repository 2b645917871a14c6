import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config/load.js';

/** The `dashboard` section: off by default, and never on without a password from a secret reference. */

const ENV = { T: 'xoxb-1', S: 'signing-secret-1', DASHBOARD_PASSWORD: 'dashboard-password-1' };

function load(dashboard: unknown) {
  return loadConfig({
    env: ENV,
    document: {
      slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
      policy: { channels: ['*'] },
      ...(dashboard === undefined ? {} : { dashboard }),
    },
  });
}

function problemsOf(dashboard: unknown): string[] {
  try {
    load(dashboard);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('dashboard configuration', () => {
  it('is off by default, read-only at /admin/queues', () => {
    expect(load(undefined).dashboard).toEqual({
      enabled: false,
      path: '/admin/queues',
      username: 'admin',
      readOnly: true,
    });
  });

  it('takes the password as a secret that never prints itself', () => {
    const { dashboard } = load({ enabled: true, password: { env: 'DASHBOARD_PASSWORD' } });
    expect(dashboard.password?.reveal()).toBe('dashboard-password-1');
    expect(JSON.stringify(dashboard)).not.toContain('dashboard-password-1');
    expect(dashboard.readOnly).toBe(true);
  });

  it('refuses to enable it without a password, naming the key', () => {
    expect(problemsOf({ enabled: true })).toEqual([
      'dashboard.password: is required when dashboard.enabled is true (a secret reference, { env: NAME } or { file: PATH })',
    ]);
    expect(problemsOf({ enabled: true, password: { env: 'UNSET_VARIABLE' } })).toContain(
      'dashboard.password: environment variable UNSET_VARIABLE is not set',
    );
  });

  it('names the key of every other mistake', () => {
    expect(problemsOf({ enabled: true, password: 'written-inline' })).toEqual([
      expect.stringMatching(/^dashboard\.password: must be a secret reference/),
    ]);
    expect(problemsOf({ path: 'admin' })).toEqual(['dashboard.path: must be a path such as /admin/queues']);
    expect(problemsOf({ path: '/metrics/queues' })).toEqual([
      'dashboard.path: must not overlap /slack/events, /healthz, /readyz or /metrics',
    ]);
    expect(problemsOf({ username: 'a:b' })).toEqual([
      'dashboard.username: must not be empty or contain ":" or spaces',
    ]);
    expect(problemsOf({ readonly: false })).toEqual(['dashboard: unknown key(s) readonly']);
  });

  it('accepts the commented example in opsbot.example.yml once uncommented', () => {
    const lines = readFileSync('opsbot.example.yml', 'utf8').split('\n');
    const start = lines.indexOf('# dashboard:');
    expect(start).toBeGreaterThan(0);
    const block: string[] = [];
    for (const line of lines.slice(start)) {
      if (!line.startsWith('# ')) break;
      block.push(line.slice(2));
    }
    const { dashboard } = parse(block.join('\n')) as { dashboard: unknown };
    const loaded = loadConfig({
      env: { ...ENV, OPSBOT_DASHBOARD_PASSWORD: 'example-password' },
      document: {
        slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
        policy: { channels: ['*'] },
        dashboard,
      },
    }).dashboard;
    expect(loaded).toMatchObject({ enabled: true, path: '/admin/queues', readOnly: true });
  });
});
