import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../../src/vendors/arcgis/simulator.js';

/** The simulator checks requests like the real site, so client bugs fail tests. */

let sim: ArcgisSimulator;
let token: string;
const REFERER = 'https://ops.example.com/';

beforeAll(async () => {
  sim = await startArcgisSimulator();
  token = (await mint({ client: 'referer', referer: REFERER })).token as string;
});
afterAll(() => sim.close());

async function post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', referer: REFERER, ...headers },
    body: new URLSearchParams(fields),
  });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

async function get(
  path: string,
  query: Record<string, string>,
  headers: Record<string, string> = { referer: REFERER },
) {
  const response = await fetch(`${sim.url}${path}?${new URLSearchParams(query)}`, { headers });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

async function mint(fields: Record<string, string>): Promise<Record<string, unknown>> {
  const answer = await post('/sharing/rest/generateToken', {
    username: sim.username,
    password: sim.password,
    f: 'json',
    ...fields,
  });
  return JSON.parse(answer.text);
}

describe('arcgis simulator', () => {
  it('mints a token with its expiry in epoch ms', async () => {
    const answer = await mint({ client: 'requestip', expiration: '5' });
    expect(answer).toMatchObject({ token: expect.any(String), ssl: false });
    expect(answer.expires as number).toBeGreaterThan(Date.now() + 4 * 60_000);
  });

  it('refuses bad credentials and a referer token without a referer (HTTP 200 error bodies)', async () => {
    expect(await mint({ password: 'wrong', client: 'requestip' })).toEqual({
      error: { code: 400, message: 'Unable to generate token.', details: ['Invalid username or password.'] },
    });
    expect(await mint({ client: 'referer' })).toMatchObject({ error: { code: 400 } });
  });

  it('answers HTML when f=json is missing (the default format is HTML)', async () => {
    const answer = await get('/admin/orgs', { token });
    expect(answer.status).toBe(200);
    expect(answer.type).toContain('text/html');
  });

  it('499 without a token, 498 with an unknown token or the wrong Referer', async () => {
    expect(JSON.parse((await get('/admin/orgs', { f: 'json' })).text)).toMatchObject({
      error: { code: 499, messageCode: 'GWM_0003' },
    });
    expect(JSON.parse((await get('/admin/orgs', { f: 'json', token: 'made-up' })).text)).toMatchObject({
      error: { code: 498 },
    });
    expect(
      JSON.parse((await get('/admin/orgs', { f: 'json', token }, { referer: 'https://evil.example/' })).text),
    ).toMatchObject({
      error: { code: 498 },
    });
    expect(JSON.parse((await get('/admin/orgs', { f: 'json', token })).text)).toEqual({
      organizations: [sim.orgId],
    });
  });

  it('wants the token of a POST in its form body, not its URL', async () => {
    const response = await fetch(
      `${sim.url}/admin/system/deployments/kvyxph9w5h3o9vgk8dixn/refresh?token=${token}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', referer: REFERER },
        body: 'async=true&f=json',
      },
    );
    expect(await response.json()).toMatchObject({ error: { code: 499 } });
  });

  it('wants form bodies', async () => {
    const answer = await post(
      '/admin/system/deployments/kvyxph9w5h3o9vgk8dixn/refresh',
      { f: 'json', token },
      { 'content-type': 'application/json' },
    );
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 400 } });
  });

  it('expires tokens: by lifetime and on demand', async () => {
    let clock = 1_000;
    const timed = await startArcgisSimulator({ now: () => clock, tokenLifetimeMs: 500 });
    try {
      const fetchOrgs = async (t: string) =>
        (await (await fetch(`${timed.url}/admin/orgs?f=json&token=${t}`)).json()) as Record<string, unknown>;
      const minted = (await (
        await fetch(`${timed.url}/sharing/rest/generateToken`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `username=${timed.username}&password=${timed.password}&client=requestip&f=json`,
        })
      ).json()) as { token: string; expires: number };
      expect(minted.expires).toBe(1_500);
      expect(await fetchOrgs(minted.token)).toHaveProperty('organizations');
      clock = 1_500;
      expect(await fetchOrgs(minted.token)).toMatchObject({ error: { code: 498 } });
      expect(timed.counters.tokenRejections).toBe(1);
    } finally {
      await timed.close();
    }
  });

  it('lists, finds and reads deployments; unknown ids get an HTTP 200 error body', async () => {
    const added = sim.addDeployment({ name: 'hosted-geocode', type: 'GeocodeServer' });
    expect(added.deploymentId).toMatch(/^[a-z0-9]{21}$/);
    const list = JSON.parse((await get('/admin/system/deployments', { f: 'json', token })).text);
    expect(list.deployments).toHaveLength(4);
    const found = JSON.parse(
      (await post('/admin/system/deployments/findDeployments', { f: 'json', token, filterType: 'MapServer' }))
        .text,
    );
    expect(found.filteredDeployments.map((d: { name: string }) => d.name)).toEqual(['shared-mapserver']);
    const one = JSON.parse(
      (await get(`/admin/system/deployments/${added.deploymentId}`, { f: 'json', token })).text,
    );
    expect(one).toMatchObject({ deploymentId: added.deploymentId, name: 'hosted-geocode' });
    const missing = await get('/admin/system/deployments/nosuchdeployment0', { f: 'json', token });
    expect(missing.status).toBe(200);
    expect(JSON.parse(missing.text)).toMatchObject({ error: { code: 404 } });
  });

  it('refreshes synchronously with async=false (10.9.0) and counts refresh calls', async () => {
    const { deploymentId } = sim.addDeployment();
    const answer = await post(`/admin/system/deployments/${deploymentId}/refresh`, {
      f: 'json',
      token,
      async: 'false',
    });
    expect(JSON.parse(answer.text)).toEqual({ status: 'success' });
    expect(sim.counters.refreshCalls[deploymentId]).toBe(1);
    const bad = await post(`/admin/system/deployments/${deploymentId}/refresh`, {
      f: 'json',
      token,
      async: 'maybe',
    });
    expect(JSON.parse(bad.text)).toMatchObject({ error: { code: 400 } });
  });

  it('walks a job by reads: 10× more reads under the slow scenario', async () => {
    sim.setScenario('slow');
    const { deploymentId } = sim.addDeployment();
    const started = JSON.parse(
      (await post(`/admin/system/deployments/${deploymentId}/refresh`, { f: 'json', token, async: 'true' }))
        .text,
    );
    sim.setScenario('success');
    expect(started).toMatchObject({
      jobStatus: 'SUBMITTED',
      jobsUrl: `${sim.url}/admin/jobs/${started.jobID}`,
    });
    const seen: string[] = [];
    for (let i = 0; i < 40; i++) {
      const job = JSON.parse((await get(`/admin/jobs/${started.jobID}`, { f: 'json', token })).text);
      seen.push(job.status);
      if (job.status === 'COMPLETED') {
        expect(job.endtime).toBeGreaterThan(0);
        expect(job.result).toMatchObject({ status: 'success' });
        break;
      }
      expect(job.endtime).toBe(0);
    }
    expect(seen.filter((s) => s === 'SUBMITTED')).toHaveLength(10);
    expect(seen.filter((s) => s === 'EXECUTING')).toHaveLength(20);
    expect(seen.at(-1)).toBe('COMPLETED');
  });

  it('serves a scripted HTML error page', async () => {
    sim.failWithHtml({ path: '/admin/orgs', status: 504 });
    const answer = await get('/admin/orgs', { f: 'json', token });
    expect(answer.status).toBe(504);
    expect(answer.type).toContain('text/html');
    expect(answer.text).toContain('504 Gateway Timeout');
  });
});
