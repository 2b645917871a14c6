import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type CckmSimulator, SIM_DOMAINS, startCckmSimulator } from '../../../src/vendors/cckm/simulator.js';
import { Clock } from './support.js';

/**
 * The simulator must refuse what the real appliance refuses, so client bugs fail tests: these
 * talk to it with plain HTTP, no opsbot client in between.
 */

let sim: CckmSimulator | undefined;
let clock: Clock;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: Parameters<typeof startCckmSimulator>[0] = {}) {
  clock = new Clock();
  sim = await startCckmSimulator({ now: clock.now, ...options });
  return sim;
}

/** The answer fields these tests read (each answer has some of them). */
interface Answer {
  jwt: string;
  refresh_token: string;
  id: string;
  message: string;
  total: number;
  detailed_status: Record<string, string>;
  resources: Array<{ id: string; name: string }>;
}

async function call(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await request(`${sim!.url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.statusCode, body: (await response.body.json()) as Answer };
}

async function signIn(): Promise<{ jwt: string; refreshToken: string; auth: Record<string, string> }> {
  const { body } = await call('POST', '/api/v1/auth/tokens/', {
    grant_type: 'password',
    username: sim!.credentials.username,
    password: sim!.credentials.password,
    refresh_token_lifetime: 60,
  });
  return { jwt: body.jwt, refreshToken: body.refresh_token, auth: { authorization: `Bearer ${body.jwt}` } };
}

describe('simulator: tokens', () => {
  it('answers the password grant as documented and counts it', async () => {
    await start();
    const { status, body } = await call('POST', '/api/v1/auth/tokens/', {
      grant_type: 'password',
      username: 'admin',
      password: 'sim-password',
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ duration: 300, token_type: 'Bearer', refresh_token_id: expect.any(String) });
    expect(body.jwt.split('.')).toHaveLength(3);
    expect(sim!.grants).toEqual({ password: 1, refresh: 0, refused: 0 });
  });

  it('refuses a wrong password with the fixture’s body', async () => {
    await start();
    const { status, body } = await call('POST', '/api/v1/auth/tokens', {
      grant_type: 'password',
      username: 'admin',
      password: 'nope',
    });
    expect(status).toBe(401);
    expect(body).toEqual({
      code: 5,
      codeDesc: 'NCERRUnauthorizedAccess',
      message: 'Wrong username or password.',
      requestID: expect.any(String),
    });
    expect(sim!.grants.refused).toBe(1);
  });

  it('mints JWTs from a refresh token and refuses an unknown or expired one', async () => {
    await start();
    const { refreshToken } = await signIn();
    const ok = await call('POST', '/api/v1/auth/tokens/', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    expect(ok.status).toBe(200);
    expect(ok.body.refresh_token).toBe(refreshToken);
    const bad = await call('POST', '/api/v1/auth/tokens/', {
      grant_type: 'refresh_token',
      refresh_token: 'forged',
    });
    expect(bad.status).toBe(401);
    clock.advance(61 * 60_000); // past the 60 minutes asked for
    const late = await call('POST', '/api/v1/auth/tokens/', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    expect(late.status).toBe(401);
    expect(sim!.grants).toEqual({ password: 1, refresh: 1, refused: 2 });
  });

  it('refuses bodies the appliance would refuse', async () => {
    await start();
    expect((await call('POST', '/api/v1/auth/tokens/', 'grant_type=password')).status).toBe(400);
    expect(
      (await call('POST', '/api/v1/auth/tokens/', { grant_type: 'password', username: 'admin' })).status,
    ).toBe(400);
    expect((await call('POST', '/api/v1/auth/tokens/', { grant_type: 'client_credential' })).status).toBe(
      400,
    );
    const lifetime = await call('POST', '/api/v1/auth/tokens/', {
      username: 'admin',
      password: 'sim-password',
      refresh_token_lifetime: 'a day',
    });
    expect(lifetime.status).toBe(400);
    const form = await request(`${sim!.url}/api/v1/auth/tokens/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=admin&password=sim-password',
    });
    expect(form.statusCode).toBe(400);
    await form.body.dump();
  });

  it('expires JWTs on its clock with the documented message', async () => {
    await start({ jwtLifetimeMs: 10_000 });
    const { auth } = await signIn();
    expect((await call('GET', '/api/v1/cckm/dsm/domains', undefined, auth)).status).toBe(200);
    clock.advance(60_000);
    const expired = await call('GET', '/api/v1/cckm/dsm/domains', undefined, auth);
    expect(expired.status).toBe(401);
    expect(expired.body.message).toBe('Unauthorized: Bearer token malformed: Token is expired by 50s');
    expect((await call('GET', '/api/v1/cckm/dsm/domains')).status).toBe(401);
    expect(
      (await call('GET', '/api/v1/cckm/dsm/domains', undefined, { authorization: 'Bearer x.y.z' })).status,
    ).toBe(401);
  });
});

describe('simulator: refreshes', () => {
  it('refuses both domains and synchronize_all, and neither', async () => {
    await start();
    const { auth } = await signIn();
    const both = await call(
      'POST',
      '/api/v1/cckm/dsm/refresh',
      { domains: [SIM_DOMAINS[0]!.id], synchronize_all: true },
      auth,
    );
    expect(both.status).toBe(400);
    expect(both.body.message).toBe('domains and synchronize_all cannot be used together');
    const neither = await call('POST', '/api/v1/cckm/dsm/refresh', {}, auth);
    expect(neither.status).toBe(400);
    expect(neither.body.message).toBe('either domains or synchronize_all is required');
    expect((await call('POST', '/api/v1/cckm/dsm/refresh', { synchronize_all: false }, auth)).status).toBe(
      400,
    );
    expect((await call('POST', '/api/v1/cckm/dsm/refresh', { domains: [] }, auth)).status).toBe(400);
    expect((await call('POST', '/api/v1/cckm/dsm/refresh', { domains: ['dsm-prod'] }, auth)).status).toBe(
      400,
    );
    const unknown = await call(
      'POST',
      '/api/v1/cckm/dsm/refresh',
      { domains: ['00000000-0000-4000-8000-000000000000'] },
      auth,
    );
    expect(unknown.status).toBe(404);
  });

  it('fills detailed_status one domain per step and ends completed', async () => {
    await start({ domainStepMs: 1_000 });
    const { auth } = await signIn();
    const created = await call('POST', '/api/v1/cckm/dsm/refresh', { synchronize_all: true }, auth);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      uri: `kylo:kylo:cckm:synchronize:${created.body.id}`,
      overall_status: 'in_progress',
      detailed_status: {},
      cloud: 'dsm',
      domains: SIM_DOMAINS.map((d) => d.id),
      abort: false,
    });
    clock.advance(2_500);
    expect(Object.keys(sim!.refresh(created.body.id)!.detailed_status)).toHaveLength(2);
    clock.advance(3_000);
    const done = await call('GET', `/api/v1/cckm/dsm/refresh/${created.body.id}`, undefined, auth);
    expect(done.body).toMatchObject({ overall_status: 'completed', completed_at: expect.any(String) });
    expect(Object.values(done.body.detailed_status)).toEqual(
      Array(5).fill('domain synchronized successfully'),
    );
  });

  it('lists with skip, limit, overall_status, id and sort', async () => {
    await start({ domainStepMs: 1_000 });
    const { auth } = await signIn();
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      ids.push(
        (await call('POST', '/api/v1/cckm/dsm/refresh', { domains: [SIM_DOMAINS[0]!.id] }, auth)).body.id,
      );
      clock.advance(600);
    }
    // now (2.4 s): the first three completed, the last one in progress
    const list = (query: string) => call('GET', `/api/v1/cckm/dsm/refresh?${query}`, undefined, auth);
    expect((await list('')).body).toMatchObject({ skip: 0, limit: 10, total: 4 });
    expect((await list('')).body.resources.map((r) => r.id)).toEqual(ids);
    expect((await list('sort=-createdAt&skip=1&limit=2')).body.resources.map((r) => r.id)).toEqual([
      ids[2],
      ids[1],
    ]);
    expect((await list('overall_status=in_progress')).body.resources.map((r) => r.id)).toEqual([ids[3]]);
    expect((await list('overall_status=completed')).body.total).toBe(3);
    expect((await list(`id=${ids[3]}`)).body.resources.map((r) => r.id)).toEqual([ids[3]]);
    expect((await list('sort=password')).status).toBe(400);
    expect((await list('limit=-1')).status).toBe(400);
  });

  it('cancels: abort:true at once, completed when the domain under way is done', async () => {
    await start({ domainStepMs: 1_000 });
    const { auth } = await signIn();
    const { body } = await call('POST', '/api/v1/cckm/dsm/refresh', { synchronize_all: true }, auth);
    clock.advance(1_500);
    const cancel = await call('POST', `/api/v1/cckm/dsm/refresh/${body.id}/cancel`, undefined, auth);
    expect(cancel.body).toMatchObject({ overall_status: 'in_progress', abort: true });
    clock.advance(500);
    expect(sim!.refresh(body.id)).toMatchObject({ overall_status: 'completed', abort: true });
    expect(Object.keys(sim!.refresh(body.id)!.detailed_status)).toHaveLength(2);
    expect((await call('POST', '/api/v1/cckm/dsm/refresh/nope/cancel', undefined, auth)).status).toBe(404);
  });

  it('lists domains with paging', async () => {
    await start();
    const { auth } = await signIn();
    const { body } = await call('GET', '/api/v1/cckm/dsm/domains?skip=3&limit=10', undefined, auth);
    expect(body).toMatchObject({ skip: 3, limit: 10, total: 5 });
    expect(body.resources.map((d) => d.name)).toEqual(['dsm-payments', 'dsm-archive']);
  });

  it('answers a 5xx storm, then recovers; setting a scenario clears it', async () => {
    await start({ scenario: '5xx-storm' });
    const statuses = [];
    for (let i = 0; i < 5; i += 1) {
      const response = await request(`${sim!.url}/api/v1/cckm/dsm/domains`);
      statuses.push(response.statusCode);
      await response.body.dump();
    }
    expect(statuses).toEqual([503, 503, 503, 502, 401]);
    sim!.setScenario('5xx-storm');
    sim!.setScenario('success');
    const after = await request(`${sim!.url}/api/v1/cckm/dsm/domains`);
    expect(after.statusCode).toBe(401);
    await after.body.dump();
  });
});
