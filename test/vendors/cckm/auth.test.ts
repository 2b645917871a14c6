import { afterEach, describe, expect, it } from 'vitest';
import { rememberedSecretCount, scrubSecrets } from '../../../src/config/secret.js';
import { VendorError } from '../../../src/errors.js';
import { bodiesTo, failure, type Setup, setup } from './support.js';

const TOKENS = '/api/v1/auth/tokens';
const LIST = { skip: 0, limit: 1 };

let env: Setup | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('CipherTrust tokens', () => {
  it('signs in once with the password, asking for a bounded refresh token, then reuses the JWT', async () => {
    env = await setup({ target: { domain: 'root', authDomain: 'corp', refreshTokenLifetime: '12h' } });
    await env.client.listDomains(LIST);
    await env.client.listDomains(LIST);
    expect(env.sim.grants).toEqual({ password: 1, refresh: 0, refused: 0 });
    expect(bodiesTo(env.sim, 'POST', TOKENS)).toEqual([
      {
        grant_type: 'password',
        username: 'admin',
        password: env.sim.credentials.password,
        domain: 'root',
        auth_domain: 'corp',
        refresh_token_lifetime: 720,
      },
    ]);
    const calls = env.sim.requests.filter((req) => req.path.startsWith('/api/v1/cckm'));
    expect(
      calls.every((req) => /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(req.headers.authorization ?? '')),
    ).toBe(true);
  });

  it('makes ONE grant for 1,000 concurrent calls', async () => {
    env = await setup();
    await Promise.all(Array.from({ length: 1_000 }, () => env!.client.listDomains(LIST)));
    expect(env.sim.grants).toEqual({ password: 1, refresh: 0, refused: 0 });
  });

  it('renews with the refresh token shortly before the JWT expires, never with the password', async () => {
    env = await setup();
    await env.client.listDomains(LIST);
    env.clock.advance(269_000); // 31 s left of 300: still good
    await env.client.listDomains(LIST);
    expect(env.sim.grants.refresh).toBe(0);
    env.clock.advance(2_000); // 29 s left: renew first
    await env.client.listDomains(LIST);
    expect(env.sim.grants).toEqual({ password: 1, refresh: 1, refused: 0 });
    expect(bodiesTo(env.sim, 'POST', TOKENS)[1]).toEqual({
      grant_type: 'refresh_token',
      refresh_token: expect.any(String),
    });
    expect(
      env.sim.requests.filter((req) => req.path.startsWith('/api/v1/cckm')).map((r) => r.path),
    ).toHaveLength(3);
  });

  it('scales the early renewal to short lifetimes', async () => {
    env = await setup({ sim: { jwtLifetimeMs: 2_000 } });
    await env.client.listDomains(LIST);
    env.clock.advance(1_700); // 300 ms left of 2 s: still good (renews 200 ms early)
    await env.client.listDomains(LIST);
    env.clock.advance(200);
    await env.client.listDomains(LIST);
    expect(env.sim.grants).toEqual({ password: 1, refresh: 1, refused: 0 });
  });

  it('on a 401 for an expired JWT renews once and retries the call once', async () => {
    env = await setup();
    await env.client.listDomains(LIST);
    env.sim.expireTokens();
    env.clock.advance(50_000);
    const page = await env.client.listDomains(LIST);
    expect(page.resources).toHaveLength(1);
    expect(env.sim.grants).toEqual({ password: 1, refresh: 1, refused: 0 });
    const domainCalls = env.sim.requests.filter((req) => req.path === '/api/v1/cckm/dsm/domains');
    expect(domainCalls).toHaveLength(3);
  });

  it('makes ONE renewal for 1,000 concurrent calls rejected with the same expired JWT', async () => {
    env = await setup();
    await env.client.listDomains(LIST);
    env.sim.expireTokens();
    await Promise.all(Array.from({ length: 1_000 }, () => env!.client.listDomains(LIST)));
    expect(env.sim.grants).toEqual({ password: 1, refresh: 1, refused: 0 });
  });

  it('gives up after one renewal if the new JWT is refused too', async () => {
    env = await setup();
    await env.client.listDomains(LIST);
    env.sim.inject({
      path: '/cckm/dsm/domains',
      times: 2,
      status: 401,
      body: {
        code: 5,
        codeDesc: 'NCERRUnauthorizedAccess',
        message: 'Unauthorized: token revoked',
        requestID: 'r-1',
      },
    });
    const error = await failure(env.client.listDomains(LIST));
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      'CipherTrust answered HTTP 401 NCERRUnauthorizedAccess (code 5) to GET /api/v1/cckm/dsm/domains: Unauthorized: token revoked',
    );
    expect(error).toMatchObject({ httpStatus: 401, retryable: false, requestId: 'r-1' });
    expect(env.sim.grants).toEqual({ password: 1, refresh: 1, refused: 0 });
  });

  it('falls back to the password grant when the refresh token is refused (expired after its lifetime)', async () => {
    env = await setup({ target: { refreshTokenLifetime: '1d' } });
    await env.client.listDomains(LIST);
    env.clock.advance(25 * 3_600_000);
    await env.client.listDomains(LIST);
    expect(env.sim.grants).toEqual({ password: 2, refresh: 0, refused: 1 });
    expect(bodiesTo(env.sim, 'POST', TOKENS).map((body) => body.grant_type)).toEqual([
      'password',
      'refresh_token',
      'password',
    ]);
  });

  it('falls back to the password grant when the refresh token was revoked', async () => {
    env = await setup();
    await env.client.listDomains(LIST);
    env.sim.revokeRefreshTokens();
    env.sim.expireTokens();
    await env.client.listDomains(LIST);
    expect(env.sim.grants).toEqual({ password: 2, refresh: 0, refused: 1 });
  });

  it('reports a wrong password as one sentence naming the vendor code, not to be retried', async () => {
    env = await setup({ password: 'not-the-password' });
    const error = await failure(env.client.listDomains(LIST));
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      'CipherTrust answered HTTP 401 NCERRUnauthorizedAccess (code 5) to POST /api/v1/auth/tokens/: Wrong username or password.',
    );
    expect(error).toMatchObject({ vendorCode: 'NCERRUnauthorizedAccess', httpStatus: 401, retryable: false });
    expect(error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.message).not.toContain('not-the-password');
  });

  it('registers every minted token so no output can show it', async () => {
    env = await setup();
    await env.client.listDomains(LIST);
    const call = env.sim.requests.find((req) => req.path.startsWith('/api/v1/cckm'));
    const jwt = call!.headers.authorization!.replace('Bearer ', '');
    expect(scrubSecrets(`token ${jwt}`)).toBe('token ••••');
    env.clock.advance(280_000);
    await env.client.listDomains(LIST);
    const sent = bodiesTo(env.sim, 'POST', TOKENS)[1]!.refresh_token as string;
    expect(scrubSecrets(`rt=${sent}`)).toBe('rt=••••');
  });

  it('remembers only the current and the previous JWT of the target, however many it renews', async () => {
    env = await setup();
    await env.client.listDomains(LIST);
    const remembered = rememberedSecretCount();
    for (let i = 0; i < 20; i += 1) {
      env.clock.advance(280_000);
      await env.client.listDomains(LIST);
    }
    expect(env.sim.grants).toEqual({ password: 1, refresh: 20, refused: 0 });
    // The JWT slot grows from one value to two; the refresh token's holds at most two too.
    expect(rememberedSecretCount()).toBeLessThanOrEqual(remembered + 2);
    const jwts = env.sim.requests
      .filter((req) => req.path.startsWith('/api/v1/cckm'))
      .map((req) => req.headers.authorization!.replace('Bearer ', ''));
    const [first, previous, current] = [jwts[0]!, jwts.at(-2)!, jwts.at(-1)!];
    expect(scrubSecrets(`${previous} ${current}`)).toBe('•••• ••••');
    expect(scrubSecrets(first)).toBe(first);
  });

  it('keeps tokens per client: a second worker process signs in on its own', async () => {
    env = await setup();
    await env.client.listDomains(LIST);
    await env.newClient().listDomains(LIST);
    expect(env.sim.grants.password).toBe(2);
  });

  it('renews mid-flight in the token-expiry scenario (JWTs die early while claiming 300 s)', async () => {
    env = await setup({ sim: { scenario: 'token-expiry', shortJwtLifetimeMs: 1_000 } });
    for (let i = 0; i < 5; i += 1) {
      await env.client.listDomains(LIST);
      env.clock.advance(1_500);
    }
    expect(env.sim.grants).toEqual({ password: 1, refresh: 4, refused: 0 });
  });
});
