import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { problemsOf } from '../config/problems.js';
import { startHarness } from '../support/harness.js';

/**
 * Plain http:// carries a target's credentials in clear: refused at config load for any host but
 * this machine's loopback, unless the target says `allowInsecureHttp: true` (then named at start).
 */

const ENV = { T: 'xoxb-1', S: 'signing-secret', PW: 'target-password-1', KEY: 'target-api-key-1' };
const PROJECT = '0605767ab1c24e4cb7d9fa3e51c0a5d2';
const CLEAR =
  'http:// sends credentials in clear; use https://, or set allowInsecureHttp: true on this target';

/** One target of each vendor, at `url` (Workspace: its service and IAM endpoints). */
function targetsAt(url: string, extra: Record<string, unknown> = {}) {
  const password = { env: 'PW' };
  return {
    arcgis: { prod: { url, username: 'admin', password, ...extra } },
    ece: { prod: { url, apiKey: { env: 'KEY' }, ...extra } },
    cckm: { prod: { url, username: 'admin', password, ...extra } },
    workspace: {
      prod: {
        url,
        iamUrl: url,
        region: 'ap-southeast-1',
        projectId: PROJECT,
        auth: { type: 'token', user: 'opsbot', password, domain: 'acme' },
        ...extra,
      },
    },
  };
}

function load(targets: Record<string, unknown>) {
  return loadConfig({
    env: ENV,
    document: {
      slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
      policy: { channels: ['*'] },
      targets,
    },
  });
}

describe('plain http:// vendor targets', () => {
  it('are refused on another host, naming each URL of each vendor', () => {
    expect(problemsOf(() => load(targetsAt('http://ops-vendor.example.com:8443/path'))).sort()).toEqual([
      `targets.arcgis.prod.url: ${CLEAR}`,
      `targets.cckm.prod.url: ${CLEAR}`,
      `targets.ece.prod.url: ${CLEAR}`,
      `targets.workspace.prod.iamUrl: ${CLEAR}`,
      `targets.workspace.prod.url: ${CLEAR}`,
    ]);
    // A private address is still the network.
    expect(problemsOf(() => load({ ece: targetsAt('http://10.0.0.7:12443').ece }))).toEqual([
      `targets.ece.prod.url: ${CLEAR}`,
    ]);
  });

  it("are refused for Workspace's IAM endpoint alone too (the service url may be derived)", () => {
    const workspace = {
      prod: {
        region: 'ap-southeast-1',
        iamUrl: 'http://iam.internal.example',
        projectId: PROJECT,
        auth: { type: 'token', user: 'opsbot', password: { env: 'PW' }, domain: 'acme' },
      },
    };
    expect(problemsOf(() => load({ workspace }))).toEqual([`targets.workspace.prod.iamUrl: ${CLEAR}`]);
  });

  it('are accepted with allowInsecureHttp: true on the target', () => {
    const config = load(targetsAt('http://ops-vendor.example.com', { allowInsecureHttp: true }));
    expect(config.targets.get('ece')?.get('prod')).toMatchObject({ allowInsecureHttp: true });
  });

  it.each([
    'http://127.0.0.1:8080',
    'http://127.42.0.9:8080',
    'http://[::1]:8080',
    'http://localhost:8080',
    'http://LOCALHOST',
  ])('are accepted on the loopback, %s, without the flag', (url) => {
    expect(load(targetsAt(url)).targets.get('cckm')?.get('prod')).toMatchObject({ url });
  });

  it('leave https:// alone, and loopback look-alikes are not loopback', () => {
    expect(load(targetsAt('https://ops-vendor.example.com')).targets.size).toBe(4);
    for (const url of ['http://127.0.0.1.nip.io', 'http://localhost.example.com', 'http://[::2]']) {
      expect(problemsOf(() => load({ ece: targetsAt(url).ece }))).toEqual([`targets.ece.prod.url: ${CLEAR}`]);
    }
  });

  it('are named in a warning at start, as targets that skip certificate checks are', async () => {
    const bot = await startHarness({
      env: { ECE_API_KEY: 'ece-api-key-value-1' },
      targets: {
        ece: {
          plain: {
            url: 'http://ece.internal.example:12443',
            apiKey: { env: 'ECE_API_KEY' },
            allowInsecureHttp: true,
          },
          unchecked: {
            url: 'https://ece.internal.example:12443',
            apiKey: { env: 'ECE_API_KEY' },
            tls: { insecureSkipVerify: true },
          },
        },
      },
    });
    await bot.stop();
    const warnings = bot.logLines.map((line) => JSON.parse(line)).filter((line) => line.level === 'warn');
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          target: 'ece/plain',
          msg: 'plain http:// is allowed for this target: its credentials may cross the network in clear (allowInsecureHttp)',
        }),
        expect.objectContaining({
          target: 'ece/unchecked',
          msg: 'TLS certificate checks are OFF for this target (tls.insecureSkipVerify)',
        }),
      ]),
    );
  });
});
