import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret, scrubSecrets } from '../../../src/config/secret.js';
import { VendorError } from '../../../src/errors.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../../src/vendors/arcgis/simulator.js';
import { action, clientFor, pollToEnd, rejection } from './support.js';

const ID = 'kvyxph9w5h3o9vgk8dixn';
const MINUTE = 60_000;

let sim: ArcgisSimulator;
let clock = 1_700_000_000_000;
beforeAll(async () => {
  sim = await startArcgisSimulator({ now: () => clock });
});
afterAll(() => sim.close());

describe('tokens', () => {
  it('mints with the documented form fields and binds the token to the Referer', async () => {
    const { client } = clientFor(sim, {}, () => clock);
    await client.deploymentStatus(ID);
    const mint = sim.requests.findLast((r) => r.path.endsWith('/sharing/rest/generateToken'))!;
    const form = Object.fromEntries(new URLSearchParams(mint.body));
    expect(mint.method).toBe('POST');
    expect(form).toEqual({
      username: 'admin',
      password: sim.password,
      client: 'referer',
      referer: sim.url,
      expiration: '60',
      f: 'json',
    });
    const read = sim.requests.findLast((r) => r.path.endsWith(`/deployments/${ID}/status`))!;
    expect(read.query.get('f')).toBe('json');
    expect(read.headers.referer).toBe(sim.url);
  });

  it('uses a configured referer and token lifetime', async () => {
    const { client } = clientFor(sim, { referer: 'https://ops.example.com/', tokenMinutes: 30 }, () => clock);
    await client.deploymentStatus(ID);
    const mint = sim.requests.findLast((r) => r.path.endsWith('/generateToken'))!;
    expect(new URLSearchParams(mint.body).get('referer')).toBe('https://ops.example.com/');
    expect(new URLSearchParams(mint.body).get('expiration')).toBe('30');
    expect(sim.requests.at(-1)!.headers.referer).toBe('https://ops.example.com/');
  });

  it('sends no Referer with client=requestip', async () => {
    const { client } = clientFor(sim, { client: 'requestip' }, () => clock);
    await client.deploymentStatus(ID);
    const mint = sim.requests.findLast((r) => r.path.endsWith('/generateToken'))!;
    expect(new URLSearchParams(mint.body).get('client')).toBe('requestip');
    expect(new URLSearchParams(mint.body).has('referer')).toBe(false);
    expect(sim.requests.at(-1)!.headers.referer).toBeUndefined();
  });

  it('mints one token for a thousand concurrent calls', async () => {
    const { client } = clientFor(sim, {}, () => clock);
    const before = sim.counters.tokensMinted;
    const answers = await Promise.all(Array.from({ length: 1000 }, () => client.deploymentStatus(ID)));
    expect(answers).toHaveLength(1000);
    expect(sim.counters.tokensMinted - before).toBe(1);
  });

  it('renews 5 minutes before expiry, without a rejection', async () => {
    const { client } = clientFor(sim, {}, () => clock);
    await client.deploymentStatus(ID);
    const minted = sim.counters.tokensMinted;
    const rejected = sim.counters.tokenRejections;
    clock += 54 * MINUTE;
    await client.deploymentStatus(ID);
    expect(sim.counters.tokensMinted).toBe(minted);
    clock += 2 * MINUTE;
    await client.deploymentStatus(ID);
    expect(sim.counters.tokensMinted).toBe(minted + 1);
    expect(sim.counters.tokenRejections).toBe(rejected);
  });

  it('renews a short-lived token after 90% of its life, not 5 minutes early', async () => {
    const short = await startArcgisSimulator({ now: () => clock, tokenLifetimeMs: 1000 });
    try {
      const { client } = clientFor(short, {}, () => clock);
      await client.deploymentStatus(ID);
      await client.deploymentStatus(ID);
      expect(short.counters.tokensMinted).toBe(1);
      clock += 850;
      await client.deploymentStatus(ID);
      expect(short.counters.tokensMinted).toBe(1);
      clock += 100;
      await client.deploymentStatus(ID);
      expect(short.counters.tokensMinted).toBe(2);
      expect(short.counters.tokenRejections).toBe(0);
    } finally {
      await short.close();
    }
  });

  it('on 498 (token expired server-side) mints a new token and retries once', async () => {
    const { client } = clientFor(sim, {}, () => clock);
    await client.deploymentStatus(ID);
    const minted = sim.counters.tokensMinted;
    const rejected = sim.counters.tokenRejections;
    sim.expireTokens();
    const answers = await Promise.all(Array.from({ length: 200 }, () => client.deploymentStatus(ID)));
    expect(answers.every((a) => a.currentState === 'STARTED')).toBe(true);
    expect(sim.counters.tokensMinted).toBe(minted + 1);
    expect(sim.counters.tokenRejections).toBe(rejected + 200);
  });

  it('on 499 (token required) mints and retries once', async () => {
    const { client } = clientFor(sim, {}, () => clock);
    await client.deploymentStatus(ID);
    sim.inject({
      path: '/status',
      status: 200,
      body: {
        error: { code: 499, message: 'Token Required', messageCode: 'GWM_0003', details: ['Token Required'] },
      },
    });
    await expect(client.deploymentStatus(ID)).resolves.toMatchObject({ currentState: 'STARTED' });
  });

  it('gives up when the new token is refused too, naming the code', async () => {
    const { client } = clientFor(sim, {}, () => clock);
    await client.deploymentStatus(ID);
    const minted = sim.counters.tokensMinted;
    sim.inject({
      path: '/status',
      status: 200,
      body: { error: { code: 498, message: 'Invalid token.', details: [] } },
      times: 2,
    });
    const error = await rejection(client.deploymentStatus(ID));
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      `ArcGIS rejected the token for read the status of deployment ${ID}: error 498, Invalid token., even with a new token (check the target's client and referer settings)`,
    );
    expect(error).toMatchObject({ vendorCode: '498', retryable: false, delivery: 'not-sent' });
    expect(sim.counters.tokensMinted).toBe(minted + 1);
  });

  it('refuses bad credentials with a permanent error naming the code, without the password', async () => {
    const wrong = clientFor(sim, { password: new Secret('not-the-password', 'test:wrong') }, () => clock);
    const error = await rejection(wrong.client.deploymentStatus(ID));
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      'ArcGIS refused to generate a token for admin: error 400, Unable to generate token. — Invalid username or password.',
    );
    expect(error).toMatchObject({ vendorCode: '400', retryable: false });
    expect(error.message).not.toContain('not-the-password');
  });

  it('registers every minted token so it is scrubbed from any output', async () => {
    const { client } = clientFor(sim, {}, () => clock);
    await client.deploymentStatus(ID);
    const token = new URLSearchParams(sim.requests.at(-1)!.query).get('token')!;
    expect(scrubSecrets(`call failed with token=${token}`)).toBe('call failed with token=••••');
  });

  it('follows a refresh to the end while tokens expire mid-flight (token-expiry scenario)', async () => {
    const fast = await startArcgisSimulator({ shortTokenLifetimeMs: 200, scenario: 'token-expiry' });
    try {
      const { ctx } = clientFor(fast);
      const refresh = action('refresh-deployment');
      const args = refresh.args.parse({ deploymentId: ID });
      let last = await refresh.start!(ctx, args);
      while (last.outcome === 'running') {
        await new Promise((resolve) => setTimeout(resolve, 120));
        [last] = (await pollToEnd('refresh-deployment', ctx, args, last, 1)).slice(-1) as [typeof last];
      }
      expect(last.outcome).toBe('succeeded');
      expect(fast.counters.tokensMinted).toBeGreaterThanOrEqual(3);
    } finally {
      await fast.close();
    }
  });
});
