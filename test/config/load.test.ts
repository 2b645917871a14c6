import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { resolveActionPolicy } from '../../src/policy/resolve.js';
import { problemsOf } from './problems.js';

const EXAMPLE_ENV = {
  SLACK_BOT_TOKEN: 'xoxb-example-token-value',
  SLACK_SIGNING_SECRET: 'example-signing-secret',
  ARCGIS_PROD_PASSWORD: 'arcgis-password-value',
  ECE_PROD_API_KEY: 'ece-api-key-value',
  HWC_ACCESS_KEY: 'hwc-access-key-value',
  HWC_SECRET_KEY: 'hwc-secret-key-value',
};

// biome-ignore lint/suspicious/noExplicitAny: a free-form YAML document that each test edits in place
function example(): Record<string, any> {
  return parse(readFileSync('opsbot.example.yml', 'utf8'));
}

describe('configuration', () => {
  it('loads the documented example, resolving secrets from the environment and files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-config-'));
    writeFileSync(join(dir, 'cckm'), 'cckm-password-value\n');
    const doc = example();
    doc.targets.cckm.prod.password = { file: join(dir, 'cckm') };
    doc.targets.cckm.prod.tls = {};
    doc.targets.ece.prod.tls = {};
    const config = loadConfig({ env: EXAMPLE_ENV, document: doc });
    expect(config.slack.command).toBe('/ops');
    expect(config.targets.get('arcgis')?.get('prod')).toMatchObject({
      name: 'prod',
      username: 'opsbot-admin',
    });
    const cckm = config.targets.get('cckm')?.get('prod') as unknown as { password: { reveal(): string } };
    expect(cckm.password.reveal()).toBe('cckm-password-value');
    expect(JSON.stringify(cckm)).not.toContain('cckm-password-value');
    expect(config.actions.get('workspace.server.reinstall')).toMatchObject({
      highRisk: true,
      timing: { deadlineMs: 3_600_000 },
    });
    expect(config.actions.get('ece.resource.restart')?.whenBusy).toBe('refuse');
    // Its governance example: a quorum of @sre and @security, and two from @sre on ECE prod only.
    expect(config.actions.get('workspace.server.reinstall')?.approvals.map((rule) => rule.label)).toEqual([
      '@sre',
      '@security',
    ]);
    expect(resolveActionPolicy(config.policy, 'ece.resource.restart', 'prod')).toMatchObject({
      approvals: [{ label: '@sre', count: 2 }],
      requesterCounts: false,
      whenBusy: 'refuse',
    });
    expect(config.policy.approvalTimeout).toBe(15 * 60_000);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the file named by OPSBOT_CONFIG, with REDIS_URL and OPSBOT_ROLES overriding it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-config-'));
    const path = join(dir, 'opsbot.yml');
    writeFileSync(
      path,
      'slack:\n  botToken: { env: T }\n  signingSecret: { env: S }\npolicy:\n  channels: ["*"]\n',
    );
    const config = loadConfig({
      env: {
        OPSBOT_CONFIG: path,
        T: 'xoxb-1',
        S: 'secret-1',
        REDIS_URL: 'redis://10.0.0.9:6380',
        OPSBOT_ROLES: 'worker',
      },
    });
    expect(config.redis).toMatchObject({ mode: 'standalone', url: 'redis://10.0.0.9:6380' });
    expect(config.roles).toEqual(['worker']);
  });

  it('names the key and the problem for every mistake, all at once', () => {
    const doc = example();
    doc.slack.botToken = 'xoxb-written-inline';
    doc.targets.cckm.prod.password = { env: 'ARCGIS_PROD_PASSWORD' };
    doc.targets.ece.prod.apiKey = { env: 'MISSING_VARIABLE' };
    doc.policy.approvalTimeout = 'soon';
    const problems = problemsOf(() => loadConfig({ env: EXAMPLE_ENV, document: doc }));
    expect(problems).toHaveLength(3);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^slack\.botToken: must be a secret reference/),
        expect.stringMatching(/^policy\.approvalTimeout: "soon" is not a duration/),
        expect.stringMatching(
          /^targets\.ece\.prod\.apiKey: environment variable MISSING_VARIABLE is not set/,
        ),
      ]),
    );
  });

  it('reports vendor target and policy problems with their full key', () => {
    const doc = example();
    doc.targets.arcgis.prod.url = 'ftp://gis';
    doc.targets.nagios = { x: {} };
    doc.policy.actions['ece.resource.reboot'] = {};
    doc.targets.ece.prod.tls = {};
    doc.targets.cckm.prod.password = { env: 'ARCGIS_PROD_PASSWORD' };
    doc.targets.cckm.prod.tls = {};
    const problems = problemsOf(() => loadConfig({ env: EXAMPLE_ENV, document: doc }));
    expect(problems).toEqual(
      expect.arrayContaining([
        'targets.arcgis.prod.url: must be an http(s) URL',
        expect.stringMatching(/^targets\.nagios: unknown vendor \(known: arcgis, ece, workspace, cckm\)/),
        expect.stringMatching(/^policy\.actions\.ece\.resource\.reboot: unknown action/),
      ]),
    );
  });

  it('names each key once: one line per key, never repeated inside its own message', () => {
    const unset = example();
    unset.slack.botToken = { env: 'UNSET_BOT_TOKEN' };
    unset.targets.cckm.prod.password = { env: 'ARCGIS_PROD_PASSWORD' };
    // The secret could not be read: the key is not also said to be missing.
    expect(problemsOf(() => loadConfig({ env: EXAMPLE_ENV, document: unset }))).toEqual([
      'slack.botToken: environment variable UNSET_BOT_TOKEN is not set',
    ]);

    const doc = example();
    doc.targets.ece.prod = {
      url: 'https://ece.example.com:12443/api/v1',
      apiKey: { env: 'ECE_PROD_API_KEY' },
      username: '',
      colour: 'blue',
    };
    doc.targets.cckm.prod.password = { env: 'ARCGIS_PROD_PASSWORD' };
    doc.targets.cckm.prod.tls = {};
    const problems = problemsOf(() => loadConfig({ env: EXAMPLE_ENV, document: doc }));
    const keys = problems.map((problem) => problem.slice(0, problem.indexOf(': ')));
    expect(new Set(keys).size).toBe(keys.length);
    expect(problems).toEqual(
      expect.arrayContaining([
        'targets.ece.prod.url: must be the ECE root (e.g. https://ece.example.com:12443); opsbot adds /api/v1 itself',
        'targets.ece.prod.username: is empty',
      ]),
    );
  });

  it('takes retry settings from vendors.retry (today’s values by default), per action and per target', () => {
    const env = { T: 'xoxb-1', S: 'secret-1' };
    const slack = { botToken: { env: 'T' }, signingSecret: { env: 'S' } };
    const REINSTALL = 'workspace.server.reinstall';
    const plain = loadConfig({ env, document: { slack, policy: { channels: ['*'] } } });
    expect(plain.vendors.retry).toEqual({ attempts: 6, initialDelay: 1_000, maxDelay: 60_000 });
    expect(plain.actions.get(REINSTALL)?.retry).toEqual({
      attempts: 6,
      initialDelayMs: 1_000,
      maxDelayMs: 60_000,
    });

    const config = loadConfig({
      env: { ...env, AK: 'hwc-access-key-value', SK: 'hwc-secret-key-value' },
      document: {
        slack,
        targets: {
          workspace: {
            prod: {
              region: 'ap-southeast-1',
              projectId: '0123456789abcdef0123456789abcdef',
              auth: { type: 'aksk', accessKey: { env: 'AK' }, secretKey: { env: 'SK' } },
            },
          },
        },
        vendors: { retry: { attempts: 4, maxDelay: '2m' } },
        policy: {
          channels: ['*'],
          actions: {
            [REINSTALL]: { retry: { initialDelay: '5s' }, targets: { prod: { retry: { attempts: 2 } } } },
          },
        },
      },
    });
    // Each key from the nearest level that sets it: the target, the action, then vendors.retry.
    expect(resolveActionPolicy(config.policy, REINSTALL, 'prod', config.vendors.retry).retry).toEqual({
      attempts: 2,
      initialDelayMs: 5_000,
      maxDelayMs: 120_000,
    });
    expect(config.actions.get(REINSTALL)?.retry).toEqual({
      attempts: 4,
      initialDelayMs: 5_000,
      maxDelayMs: 120_000,
    });
    expect(config.actions.get('ece.resource.restart')?.retry).toEqual({
      attempts: 4,
      initialDelayMs: 1_000,
      maxDelayMs: 120_000,
    });

    const problems = problemsOf(() =>
      loadConfig({
        env,
        document: {
          slack,
          vendors: { retry: { attempts: 0, initialDelay: '0s', tries: 3 } },
          policy: { channels: ['*'], defaults: { retry: { maxDelay: 'later' } } },
        },
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'vendors.retry: unknown key(s) tries',
        'vendors.retry.attempts: must be at least 1 (the first try)',
        'vendors.retry.initialDelay: must be more than 0',
        'policy.defaults.retry.maxDelay: "later" is not a duration (write e.g. 30s, 15m, 2h)',
      ]),
    );
  });

  it('says where to put the file when it is missing', () => {
    const problems = problemsOf(() => loadConfig({ env: { OPSBOT_CONFIG: '/nonexistent/opsbot.yml' } }));
    expect(problems[0]).toContain('config file /nonexistent/opsbot.yml not found (set OPSBOT_CONFIG');
  });
});
