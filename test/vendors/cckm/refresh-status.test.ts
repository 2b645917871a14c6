import { afterEach, describe, expect, it } from 'vitest';
import { type RefreshArgs, refreshAction } from '../../../src/vendors/cckm/refresh.js';
import { type RefreshStatusArgs, refreshStatusAction } from '../../../src/vendors/cckm/refresh-status.js';
import { SIM_DOMAINS } from '../../../src/vendors/cckm/simulator.js';
import { failure, type Setup, setup } from './support.js';

const status = refreshStatusAction;
const refresh = refreshAction;
const [EU] = SIM_DOMAINS.map((domain) => domain.id) as [string];

let env: Setup | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** The simulator's clock starts at 2025-05-01 10:00 UTC; refreshes are dated as instants. */
const minute = (m: number) => ({ at: Date.UTC(2025, 4, 1, 10, m) });

const args = (fields: Partial<RefreshStatusArgs> = {}): RefreshStatusArgs => ({
  skip: 0,
  limit: 10,
  ...fields,
});

/** Starts `count` refreshes one minute apart; returns their ids, oldest first. */
async function startRefreshes(e: Setup, count: number, what: RefreshArgs = { all: false, domains: [EU] }) {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    ids.push((await refresh.start!(e.ctx, what)).vendorJobId!);
    e.clock.advance(60_000);
  }
  return ids;
}

describe('cckm refresh-status', () => {
  it('lists the newest refreshes first, one short line each, with a paging footer', async () => {
    env = await setup();
    const ids = await startRefreshes(env, 12);
    const answer = await status.read!(env.ctx, args());
    expect(answer.title).toBe('CCKM DSM refreshes on lab');
    expect(answer.lines).toHaveLength(10);
    expect(answer.lines[0]).toEqual([`\`${ids[11]}\` completed`, ' · 1 domain', ' · ', minute(11)]);
    expect(answer.footer).toBe('showing 1–10 of 12 · next: --skip 10');
    const query = env.sim.requests.at(-1)!.query;
    expect(Object.fromEntries(query)).toEqual({ skip: '0', limit: '10', sort: '-createdAt' });
  });

  it('shows the last page without a next hint', async () => {
    env = await setup();
    const ids = await startRefreshes(env, 12);
    const answer = await status.read!(env.ctx, args({ skip: 10 }));
    expect(answer.lines).toEqual([
      [`\`${ids[1]}\` completed`, ' · 1 domain', ' · ', minute(1)],
      [`\`${ids[0]}\` completed`, ' · 1 domain', ' · ', minute(0)],
    ]);
    expect(answer.footer).toBe('showing 11–12 of 12');
  });

  it('filters by status and keeps the filter and limit in the next hint', async () => {
    env = await setup({ sim: { domainStepMs: 600_000 } });
    await startRefreshes(env, 5); // the last ones are still running
    const answer = await status.read!(env.ctx, args({ status: 'in_progress', limit: 2 }));
    expect(answer.title).toBe('CCKM DSM in_progress refreshes on lab');
    expect(answer.lines.every((line) => String(line[0]).endsWith(' in progress'))).toBe(true);
    expect(answer.footer).toBe('showing 1–2 of 5 · next: --skip 2 --status in_progress --limit 2');
    expect(env.sim.requests.at(-1)!.query.get('overall_status')).toBe('in_progress');
  });

  it('says a cancelled refresh is cancelling, then cancelled (CipherTrust says completed)', async () => {
    env = await setup();
    const started = await refresh.start!(env.ctx, { all: true });
    env.clock.advance(1_000);
    await refresh.cancel!(env.ctx, { all: true }, started);
    const id = started.vendorJobId;
    const cancelling = await status.read!(env.ctx, args());
    expect(cancelling.lines[0]).toEqual([
      `\`${id}\` in progress, cancelling`,
      ' · 5 domains',
      ' · ',
      minute(0),
    ]);
    env.clock.advance(1_000);
    const answer = await status.read!(env.ctx, args());
    expect(answer.lines[0]).toEqual([`\`${id}\` cancelled`, ' · 5 domains', ' · ', minute(0)]);
  });

  it('says when there is nothing to show', async () => {
    env = await setup();
    expect(await status.read!(env.ctx, args({ status: 'failed' }))).toEqual({
      title: 'CCKM DSM failed refreshes on lab',
      lines: ['no failed refreshes'],
      footer: undefined,
    });
    await startRefreshes(env, 2);
    expect(await status.read!(env.ctx, args({ skip: 40 }))).toMatchObject({
      lines: ['no refreshes past --skip 40'],
      footer: 'there are 2; try --skip 0',
    });
  });

  it('describes the query for the audit trail', () => {
    expect(status.describe(args({ status: 'failed', skip: 10 }))).toEqual({
      fields: [
        { label: 'Status', value: 'failed' },
        { label: 'Page', value: '--skip 10 --limit 10' },
      ],
      warnings: [],
    });
  });

  it('passes on the vendor’s refusal as one sentence', async () => {
    env = await setup();
    env.sim.inject({
      path: '/cckm/dsm/refresh',
      status: 403,
      body: {
        code: 7,
        codeDesc: 'NCERRPermissionDenied',
        message: 'User is not allowed to list refreshes',
        requestID: 'q-9',
      },
    });
    const error = await failure(status.read!(env.ctx, args()));
    expect(error.message).toBe(
      'CipherTrust answered HTTP 403 NCERRPermissionDenied (code 7) to GET /api/v1/cckm/dsm/refresh: User is not allowed to list refreshes',
    );
    expect(error).toMatchObject({ retryable: false, requestId: 'q-9' });
  });
});
