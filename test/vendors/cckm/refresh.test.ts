import { afterEach, describe, expect, it } from 'vitest';
import { OpsError, VendorError } from '../../../src/errors.js';
import { type RefreshArgs, refreshAction } from '../../../src/vendors/cckm/refresh.js';
import { SIM_DOMAINS } from '../../../src/vendors/cckm/simulator.js';
import type { ActionProgress } from '../../../src/vendors/types.js';
import { bodiesTo, failure, type Setup, setup } from './support.js';

const refresh = refreshAction;
const [EU, US] = SIM_DOMAINS.map((domain) => domain.id) as [string, string];
const UNKNOWN = '00000000-1111-4222-8333-444444444444';
const REFRESH = '/api/v1/cckm/dsm/refresh';

let env: Setup | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const some = (...domains: string[]): RefreshArgs => ({ all: false, domains });
const ALL: RefreshArgs = { all: true };

/** Polls every `stepMs` of simulated time until the action ends; returns every progress seen. */
async function follow(
  e: Setup,
  args: RefreshArgs,
  first: ActionProgress,
  stepMs: number,
): Promise<ActionProgress[]> {
  const seen = [first];
  for (let i = 0; i < 1_000 && seen.at(-1)!.outcome === 'running'; i += 1) {
    e.clock.advance(stepMs);
    seen.push(await refresh.poll!(e.ctx, args, seen.at(-1)!));
  }
  return seen;
}

describe('cckm refresh: start → poll → end', () => {
  it('refreshes the named domains and reports each one', async () => {
    env = await setup();
    const args = some(EU, US);
    const started = await refresh.start!(env.ctx, args);
    expect(started).toMatchObject({
      outcome: 'running',
      status: 'in_progress',
      detail: '0 of 2 domains finished',
    });
    expect(started.vendorJobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(started.memo).toEqual({ refreshId: started.vendorJobId });
    expect(bodiesTo(env.sim, 'POST', REFRESH)).toEqual([{ domains: [EU, US] }]);

    const seen = await follow(env, args, started, 2_000);
    expect(seen.map((p) => [p.outcome, p.detail])).toEqual([
      ['running', '0 of 2 domains finished'],
      ['running', '1 of 2 domains finished'],
      ['succeeded', '2 of 2 domains finished'],
    ]);
    expect(seen.at(-1)!.result).toEqual([
      `${EU}: domain synchronized successfully`,
      `${US}: domain synchronized successfully`,
    ]);
    expect(bodiesTo(env.sim, 'POST', REFRESH)).toHaveLength(1);
  });

  it('refreshes every domain with --all (synchronize_all)', async () => {
    env = await setup();
    const started = await refresh.start!(env.ctx, ALL);
    expect(bodiesTo(env.sim, 'POST', REFRESH)).toEqual([{ synchronize_all: true }]);
    const end = (await follow(env, ALL, started, 5_000)).at(-1)!;
    expect(end).toMatchObject({
      outcome: 'succeeded',
      status: 'completed',
      detail: '5 of 5 domains finished',
    });
    expect(end.result).toHaveLength(5);
  });

  it('ends failed when a domain fails, with that domain’s message', async () => {
    env = await setup();
    env.sim.setScenario('failure');
    const started = await refresh.start!(env.ctx, ALL);
    const end = (await follow(env, ALL, started, 2_000)).at(-1)!;
    expect(end).toMatchObject({ outcome: 'failed', status: 'failed', detail: '5 of 5 domains finished' });
    expect(end.result?.[1]).toBe(
      `${US}: failed to synchronize domain: could not connect to DSM server dsm-02.example.com:443 (connection refused)`,
    );
  });

  it('is cancelled (not succeeded) after a cancel, even though CipherTrust says completed', async () => {
    env = await setup();
    const started = await refresh.start!(env.ctx, ALL);
    env.clock.advance(3_000); // one domain finished, the second under way
    const said = await refresh.cancel!(env.ctx, ALL, started);
    expect(said).toBe(
      `CipherTrust took the cancel of refresh ${started.vendorJobId}: in_progress, abort requested`,
    );

    const cancelling = await refresh.poll!(env.ctx, ALL, started);
    expect(cancelling).toMatchObject({ outcome: 'running', detail: 'cancelling · 1 of 5 domains finished' });
    env.clock.advance(1_000); // the domain under way finishes, then it stops
    const end = await refresh.poll!(env.ctx, ALL, cancelling);
    expect(end).toMatchObject({
      outcome: 'cancelled',
      status: 'completed',
      detail: 'cancelled · 2 of 5 domains finished',
    });
    expect(end.result?.slice(2)).toEqual([
      `${SIM_DOMAINS[2]!.id}: no status reported`,
      `${SIM_DOMAINS[3]!.id}: no status reported`,
      `${SIM_DOMAINS[4]!.id}: no status reported`,
    ]);
  });

  it('reports a cancel CipherTrust refuses (the refresh already ended)', async () => {
    env = await setup();
    const started = await refresh.start!(env.ctx, some(EU));
    env.clock.advance(2_000);
    const error = await failure(refresh.cancel!(env.ctx, some(EU), started));
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      `CipherTrust answered HTTP 400 NCERRBadRequest (code 1) to POST ${REFRESH}/${started.vendorJobId}/cancel: refresh ${started.vendorJobId} is not in progress and cannot be cancelled`,
    );
  });

  it('follows a slow refresh for as long as it takes', async () => {
    env = await setup();
    env.sim.setScenario('slow');
    const started = await refresh.start!(env.ctx, some(EU, US));
    const seen = await follow(env, some(EU, US), started, 10_000);
    expect(seen).toHaveLength(5);
    expect(seen.at(-1)!.outcome).toBe('succeeded');
  });

  it('outlives many JWTs over a long refresh: one password grant, then only refresh grants', async () => {
    env = await setup({ sim: { domainStepMs: 600_000 } }); // 10 min per domain, 50 min in all
    const started = await refresh.start!(env.ctx, ALL);
    const seen = await follow(env, ALL, started, 30_000);
    expect(seen.at(-1)!.outcome).toBe('succeeded');
    expect(seen).toHaveLength(101);
    // A JWT lives 300 s and is renewed 30 s early: every 270 s of the 3,000 s walk.
    expect(env.sim.grants).toEqual({ password: 1, refresh: 11, refused: 0 });
  });

  it('refuses an unknown domain with the vendor’s 404, not to be retried', async () => {
    env = await setup();
    const error = await failure(refresh.start!(env.ctx, some(EU, UNKNOWN)));
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      `CipherTrust answered HTTP 404 NCERRResourceNotFound (code 4) to POST ${REFRESH}: Resource not found: DSM domain ${UNKNOWN}`,
    );
    expect(error).toMatchObject({
      retryable: false,
      delivery: 'answered',
      vendorCode: 'NCERRResourceNotFound',
    });
  });

  it('stops following a refresh CipherTrust no longer knows', async () => {
    env = await setup();
    const lost: ActionProgress = { outcome: 'running', status: 'in_progress', memo: { refreshId: UNKNOWN } };
    const error = await failure(refresh.poll!(env.ctx, ALL, lost));
    expect(error).toMatchObject({ httpStatus: 404, retryable: false });
  });

  it('says so when the stored progress lost its refresh id', async () => {
    env = await setup();
    const error = await failure(refresh.poll!(env.ctx, ALL, { outcome: 'running', status: 'x', memo: null }));
    expect(error).toBeInstanceOf(OpsError);
    expect(error.message).toBe('the stored progress of this CCKM refresh has lost its refresh id');
  });
});

describe('cckm refresh under a 5xx storm', () => {
  it('reports 503s and a proxy’s 502 page as retryable, saying whether the call may have reached the vendor', async () => {
    env = await setup();
    const started = await refresh.start!(env.ctx, ALL);
    env.sim.setScenario('5xx-storm');
    const errors = [];
    for (let i = 0; i < 4; i += 1) errors.push(await failure(refresh.poll!(env.ctx, ALL, started)));
    expect(errors.slice(0, 3).map((e) => [e.httpStatus, e.retryable, e.delivery, e.retryAfterMs])).toEqual([
      [503, true, 'not-sent', 1_000],
      [503, true, 'not-sent', 1_000],
      [503, true, 'not-sent', 1_000],
    ]);
    expect(errors[0]!.message).toBe(
      `CipherTrust answered HTTP 503 NCERRServiceUnavailable (code 22) to GET ${REFRESH}/${started.vendorJobId}: Service is temporarily unavailable, please try again later.`,
    );
    expect(errors[3]).toMatchObject({ httpStatus: 502, retryable: true, delivery: 'uncertain' });
    expect(errors[3]!.message).toBe(
      `CipherTrust answered HTTP 502 to GET ${REFRESH}/${started.vendorJobId}: an HTML page (a proxy or login page?)`,
    );
    expect((await refresh.poll!(env.ctx, ALL, started)).outcome).toBe('running');
  });

  it('marks a 503 on the start as never processed, so the start may be sent again', async () => {
    env = await setup();
    await env.client.listDomains({ skip: 0, limit: 1 });
    env.sim.setScenario('5xx-storm');
    const error = await failure(refresh.start!(env.ctx, ALL));
    expect(error).toMatchObject({ httpStatus: 503, retryable: true, delivery: 'not-sent' });
  });
});

describe('cckm refresh --dry-run', () => {
  it('shows the exact call and the requested domains, changing nothing', async () => {
    env = await setup();
    const report = await refresh.dryRun!(env.ctx, some(EU, UNKNOWN));
    expect(report.call).toBe(
      `POST ${env.sim.url}/api/v1/cckm/dsm/refresh {"domains":["${EU}","${UNKNOWN}"]} (Authorization: Bearer ••••)`,
    );
    expect(report.currentState).toEqual([
      `\`${EU}\` dsm-prod-eu`,
      `\`${UNKNOWN}\` is not a known CCKM DSM domain: CipherTrust would refuse the refresh`,
      'no refresh in progress',
    ]);
    expect(env.sim.requests.filter((req) => req.method === 'POST' && req.path.startsWith(REFRESH))).toEqual(
      [],
    );
  });

  it('lists every domain for --all and the refreshes already running', async () => {
    env = await setup();
    const running = await refresh.start!(env.ctx, some(EU));
    const report = await refresh.dryRun!(env.ctx, ALL);
    expect(report.call).toContain('{"synchronize_all":true}');
    expect(report.currentState).toEqual([
      'all 5 CCKM DSM domains would be refreshed:',
      ...SIM_DOMAINS.map((domain) => `\`${domain.id}\` ${domain.name}`),
      [
        'refresh ',
        `\`${running.vendorJobId}\` in progress`,
        ' · 1 domain',
        ' · ',
        { at: Date.UTC(2025, 4, 1, 10) },
      ],
    ]);
  });

  it('pages through many domains and keeps the list short', async () => {
    const domains = Array.from({ length: 150 }, (_, i) => ({
      id: `6070915c-0ab4-4e7e-bf4d-${String(i).padStart(12, '0')}`,
      name: `dsm-${i}`,
    }));
    env = await setup({ sim: { domains } });
    const all = await refresh.dryRun!(env.ctx, ALL);
    expect(all.currentState[0]).toBe('all 150 CCKM DSM domains would be refreshed:');
    expect(all.currentState).toContain('… and 130 more');
    const last = await refresh.dryRun!(env.ctx, some(domains[149]!.id));
    expect(last.currentState[0]).toBe(`\`${domains[149]!.id}\` dsm-149`);
  });
});

describe('cckm refresh approval summary', () => {
  it('lists the domains', () => {
    expect(refresh.describe(some(EU, US))).toEqual({
      fields: [{ label: 'Domains (2)', value: `${EU}, ${US}` }],
      warnings: [],
    });
    expect(refresh.describe(some(EU)).fields[0]!.label).toBe('Domain');
  });

  it('warns that --all refreshes everything for a long time', () => {
    expect(refresh.describe(ALL)).toEqual({
      fields: [{ label: 'Domains', value: 'every CCKM DSM domain (synchronize_all)' }],
      warnings: ['refreshes every DSM domain: this can take hours and loads the DSM servers meanwhile'],
    });
  });
});
