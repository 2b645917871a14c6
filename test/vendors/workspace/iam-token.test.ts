import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scrubSecrets } from '../../../src/config/secret.js';
import { VendorError } from '../../../src/errors.js';
import { makeClientDeps } from '../../../src/vendors/client-deps.js';
import { reinstallServer } from '../../../src/vendors/workspace/actions.js';
import { IamTokenSource } from '../../../src/vendors/workspace/iam-token.js';
import type { WorkspaceClient } from '../../../src/vendors/workspace/index.js';
import {
  SIM_PROJECT_ID,
  SIM_USER,
  startWorkspaceSimulator,
  type WorkspaceSimulator,
} from '../../../src/vendors/workspace/simulator.js';
import { clientFor, ctx, log, SERVER_ID, secret, sleep, thrown, tokenTarget } from './helpers.js';

const HOUR = 3_600_000;

describe('IAM token authentication', () => {
  let sim: WorkspaceSimulator;
  let client: WorkspaceClient | undefined;

  beforeEach(async () => {
    sim = await startWorkspaceSimulator();
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await sim.close();
  });

  const tokenCalls = () => sim.requests.filter((r) => r.path === '/v3/auth/tokens');
  const serverCalls = () => sim.requests.filter((r) => r.path.includes('/app-servers/'));

  it('asks IAM for a project-scoped token once (nocatalog) and sends it as X-Auth-Token', async () => {
    client = clientFor(tokenTarget(sim));
    await client.server(SERVER_ID);
    await client.server(SERVER_ID);

    expect(tokenCalls()).toHaveLength(1);
    const [issue] = tokenCalls();
    expect(issue!.method).toBe('POST');
    expect(issue!.query.get('nocatalog')).toBe('true');
    expect(JSON.parse(issue!.body)).toEqual({
      auth: {
        identity: {
          methods: ['password'],
          password: {
            user: { name: SIM_USER.name, password: SIM_USER.password, domain: { name: SIM_USER.domain } },
          },
        },
        scope: { project: { id: SIM_PROJECT_ID } },
      },
    });
    const tokens = serverCalls().map((r) => r.headers['x-auth-token']);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toMatch(/^MIIsim/);
    expect(tokens[1]).toBe(tokens[0]);
    expect(serverCalls().every((r) => !r.body.includes(SIM_USER.password))).toBe(true);
    // Minted tokens are registered as secrets, so any text that carries one is scrubbed.
    expect(scrubSecrets(`token ${tokens[0]}`)).toBe('token ••••');
  });

  it('mints one token for 1,000 concurrent requests for one (single-flight)', async () => {
    const target = tokenTarget(sim);
    const iam = makeClientDeps({ vendor: 'workspace', target, baseUrl: sim.url, log }).http();
    try {
      const source = new IamTokenSource(
        iam,
        {
          user: SIM_USER.name,
          password: secret(SIM_USER.password),
          domain: SIM_USER.domain,
          projectId: SIM_PROJECT_ID,
        },
        Date.now,
      );
      const tokens = await Promise.all(Array.from({ length: 1_000 }, () => source.token()));
      expect(new Set(tokens).size).toBe(1);
      expect(source.minted).toBe(1);
      expect(sim.tokensIssued).toBe(1);
    } finally {
      await iam.close();
    }
  });

  it('mints one token for many concurrent Workspace calls of one client', async () => {
    client = clientFor(tokenTarget(sim));
    const c = client;
    await Promise.all(Array.from({ length: 200 }, () => c.server(SERVER_ID)));
    expect(sim.tokensIssued).toBe(1);
    expect(c.tokensMinted).toBe(1);
  });

  it('renews an hour before expiry for 24 h tokens', async () => {
    let now = Date.now();
    client = clientFor(tokenTarget(sim), { now: () => now });
    await client.server(SERVER_ID);
    now += 22 * HOUR;
    await client.server(SERVER_ID);
    expect(sim.tokensIssued).toBe(1);
    now += 1.5 * HOUR;
    await client.server(SERVER_ID);
    expect(sim.tokensIssued).toBe(2);
  });

  it('renews at 90 % of a short lifetime', async () => {
    await sim.close();
    sim = await startWorkspaceSimulator({ tokenLifetimeMs: 10_000 });
    let now = Date.now();
    client = clientFor(tokenTarget(sim), { now: () => now });
    await client.server(SERVER_ID);
    now += 8_500;
    await client.server(SERVER_ID);
    expect(sim.tokensIssued).toBe(1);
    now += 1_000;
    await client.server(SERVER_ID);
    expect(sim.tokensIssued).toBe(2);
  });

  it('on a 401 (token revoked, e.g. password change) renews once and retries the call once', async () => {
    client = clientFor(tokenTarget(sim));
    await client.server(SERVER_ID);
    sim.revokeTokens();
    const server = await client.server(SERVER_ID);
    expect(server.id).toBe(SERVER_ID);
    expect(sim.tokensIssued).toBe(2);
    expect(sim.requests.map((r) => `${r.method} ${r.path.includes('/v3/') ? 'iam' : 'server'}`)).toEqual([
      'POST iam',
      'GET server',
      'GET server',
      'POST iam',
      'GET server',
    ]);
  });

  it('on an expired token (the client clock did not see it coming) renews and retries', async () => {
    await sim.close();
    sim = await startWorkspaceSimulator({ tokenLifetimeMs: 100 });
    const frozen = Date.now();
    client = clientFor(tokenTarget(sim), { now: () => frozen });
    await client.server(SERVER_ID);
    await sleep(150);
    await client.server(SERVER_ID);
    const refused = sim.requests.filter((r) => r.path.includes('/app-servers/'));
    expect(refused).toHaveLength(3);
    expect(sim.tokensIssued).toBe(2);
  });

  it('many calls refused at once with the same token lead to one new token', async () => {
    client = clientFor(tokenTarget(sim));
    const c = client;
    await c.server(SERVER_ID);
    sim.revokeTokens();
    await Promise.all(Array.from({ length: 200 }, () => c.server(SERVER_ID)));
    expect(sim.tokensIssued).toBe(2);
  });

  it('does not retry a second 401: one clear, permanent error with the gateway code', async () => {
    client = clientFor(tokenTarget(sim));
    sim.injectError(401, { path: '/app-servers/', times: 2 });
    const error = await thrown(() => client!.server(SERVER_ID));
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      `Huawei Workspace answered APIGW.0301 (HTTP 401) to the lookup of server ${SERVER_ID}: Incorrect IAM authentication information.`,
    );
    expect(error.retryable).toBe(false);
    expect(error.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(serverCalls()).toHaveLength(2);
    expect(sim.tokensIssued).toBe(2);
  });

  it('keeps renewing when tokens expire quickly mid-flight (token-expiry scenario)', async () => {
    await sim.close();
    sim = await startWorkspaceSimulator({ shortTokenLifetimeMs: 200 });
    sim.setScenario('token-expiry');
    client = clientFor(tokenTarget(sim));
    for (let i = 0; i < 12; i += 1) {
      await client.server(SERVER_ID);
      await sleep(50);
    }
    expect(sim.tokensIssued).toBeGreaterThanOrEqual(3);
    const refused = serverCalls().length - 12;
    expect(refused).toBeLessThanOrEqual(1);
  });

  it('reports a wrong password as one sentence without the password, permanent and not sent', async () => {
    client = clientFor(tokenTarget(sim, 'wrong-password-1'));
    const error = await thrown(() =>
      reinstallServer.start!(ctx(client!), { serverId: SERVER_ID, updateAgent: false }),
    );
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      `Huawei IAM answered HTTP 401 to the token request of IAM user "opsbot" (account "acme-cloud"): The username or password is wrong.`,
    );
    expect(error.message).not.toContain('wrong-password-1');
    expect(error.retryable).toBe(false);
    expect(error.delivery).toBe('not-sent');
    expect(sim.requests.some((r) => r.path.includes('/actions/reinstall'))).toBe(false);
  });

  it('marks an IAM outage during start as retryable and not sent (the reinstall never left)', async () => {
    client = clientFor(tokenTarget(sim));
    sim.inject({
      path: '/v3/auth/tokens',
      status: 503,
      body: { error: { code: 503, title: 'Service Unavailable', message: 'The service is unavailable.' } },
    });
    const error = await thrown(() =>
      reinstallServer.start!(ctx(client!), { serverId: SERVER_ID, updateAgent: false }),
    );
    expect(error.message).toMatch(/^Huawei IAM answered HTTP 503 to the token request of IAM user "opsbot"/);
    expect(error.retryable).toBe(true);
    expect(error.delivery).toBe('not-sent');
  });
});
