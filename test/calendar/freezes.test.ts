import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FreezeCalendar } from '../../src/calendar/freeze-calendar.js';
import type { DeclaredFreezeConfig } from '../../src/calendar/schema.js';
import { parseScope } from '../../src/calendar/scope.js';
import { deleteKeys } from '../support/harness.js';

/**
 * The freeze calendar: windows declared in the config (fixed, and recurring on a wall clock across
 * DST), freezes set from Slack in Redis (gone when they end), scopes, and when a held scheduled
 * action may run.
 */

const utc = (iso: string) => Date.parse(iso);
const targets: Record<string, string[]> = { ece: ['prod', 'staging'], arcgis: ['prod'] };
const targetsOf = (vendor: string) => targets[vendor] ?? [];
const restartOnProd = { vendor: 'ece', target: 'prod', actionId: 'ece.resource.restart' };

let redis: Redis;
let prefix: string;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
  prefix = `t${randomBytes(5).toString('hex')}`;
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

function calendar(windows: Array<Partial<DeclaredFreezeConfig> & { name: string }>) {
  return new FreezeCalendar({
    redis,
    prefix,
    windows: windows.map((w) => ({ scope: ['*'], reason: 'frozen', hold: false, ...w })),
    timeZone: 'Europe/Berlin',
    overrideBy: 'cab',
    targetsOf,
  });
}

describe('scopes', () => {
  it.each([
    ['*', restartOnProd, true],
    ['ece', restartOnProd, true],
    ['arcgis', restartOnProd, false],
    ['ece.prod', restartOnProd, true],
    ['ece.staging', restartOnProd, false],
    ['ece.resource.restart', restartOnProd, true],
    ['ece.resource.restart@prod', restartOnProd, true],
    ['ece.resource.restart@staging', restartOnProd, false],
  ])('%s covers a restart on ece/prod: %s', async (text, place, expected) => {
    const freezes = calendar([
      { name: 'x', scope: [text], from: '2026-01-01T00:00', until: '2027-01-01T00:00' },
    ]);
    expect((await freezes.covering(place, utc('2026-06-01T00:00:00Z'))).length > 0).toBe(expected);
  });

  it.each([
    ['nagios.prod', '"nagios.prod" names no vendor opsbot knows (vendors: arcgis, ece, workspace, cckm)'],
    ['ece.qa', '"ece.qa": ece has no target "qa" (targets: prod, staging)'],
    [
      'ece.resource.reboot',
      '"ece.resource.reboot": no action ece.resource.reboot (actions of ece: ece.resource.restart)',
    ],
    ['ece.resource.restart@qa', 'ece has no target "qa"'],
    ['ece@prod@x', 'is not a scope: write *, a vendor (ece)'],
  ])('refuses %j: %s', (text, message) => {
    expect(parseScope(text, targetsOf)).toContain(message);
  });
});

describe('declared windows', () => {
  const weekend = { name: 'weekend', every: '0 16 * * 5', for: 64 * 3_600_000, reason: 'weekend freeze' };

  it('holds a recurring window from Friday 16:00 to Monday 08:00 Berlin time', async () => {
    const freezes = calendar([weekend]);
    const friday = utc('2026-12-04T15:00:00Z');
    expect(await freezes.covering(restartOnProd, friday - 1)).toEqual([]);
    const [frozen] = await freezes.covering(restartOnProd, friday);
    expect(frozen).toMatchObject({ name: 'weekend', start: friday, end: utc('2026-12-07T07:00:00Z') });
    expect(await freezes.covering(restartOnProd, utc('2026-12-07T07:00:00Z'))).toEqual([]);
  });

  it('ends it on Monday 08:00 local over the weekend the clocks go forward (63 hours)', async () => {
    const freezes = calendar([weekend]);
    const [frozen] = await freezes.covering(restartOnProd, utc('2026-03-29T12:00:00Z'));
    expect(frozen).toMatchObject({ start: utc('2026-03-27T15:00:00Z'), end: utc('2026-03-30T06:00:00Z') });
  });

  it('starts a nightly 02:30 window once on each transition day', async () => {
    const nightly = calendar([{ name: 'nightly', every: '30 2 * * *', for: 30 * 60_000 }]);
    // Spring forward: 02:30 does not exist; the window is 03:30–04:00 CEST (01:30–02:00 UTC).
    const spring = await nightly.covering(restartOnProd, utc('2026-03-29T01:45:00Z'));
    expect(spring.map((f) => [f.start, f.end])).toEqual([
      [utc('2026-03-29T01:30:00Z'), utc('2026-03-29T02:00:00Z')],
    ]);
    // Fall back: one window, from the first 02:30 (00:30 UTC) until the clock shows 03:00 CET
    // (02:00 UTC), the repeated hour included; none starts at the second 02:30.
    for (const moment of ['2026-10-25T00:45:00Z', '2026-10-25T01:45:00Z']) {
      const fall = await nightly.covering(restartOnProd, utc(moment));
      expect(fall.map((f) => [f.start, f.end])).toEqual([
        [utc('2026-10-25T00:30:00Z'), utc('2026-10-25T02:00:00Z')],
      ]);
    }
    expect(await nightly.covering(restartOnProd, utc('2026-10-25T02:00:00Z'))).toEqual([]);
  });

  it('shows the next window of a declared freeze that is not in effect', async () => {
    const { active, upcoming } = await calendar([weekend]).overview(utc('2026-12-02T12:00:00Z'));
    expect(active).toEqual([]);
    expect(upcoming.map((f) => [f.name, f.start])).toEqual([['weekend', utc('2026-12-04T15:00:00Z')]]);
  });
});

describe('freezes set from Slack', () => {
  it('keeps one until it ends or is lifted, refuses a second of the same name, and expires in Redis', async () => {
    const freezes = calendar([]);
    const now = Date.now();
    const freeze = {
      name: 'fz-test1',
      scopes: [{ text: 'ece.prod', vendor: 'ece', target: 'prod' }],
      reason: 'migration',
      start: now,
      end: now + 60_000,
      hold: false,
      overrideBy: 'cab',
      setBy: 'U0SETTER1',
    };
    expect(await freezes.store.add(freeze, now)).toBe(true);
    expect(await freezes.store.add(freeze, now)).toBe(false);
    expect((await freezes.covering(restartOnProd, now, now)).map((f) => f.name)).toEqual(['fz-test1']);
    const ttl = await redis.pttl(`${prefix}:freeze:fz-test1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // As it stands once its end has passed: none in effect; the next freeze set drops its index entry.
    expect(await freezes.store.current(now + 60_000)).toEqual([]);
    await freezes.store.add({ ...freeze, name: 'fz-test2', end: now + 120_000 }, now + 60_000);
    expect(await redis.zrange(`${prefix}:freezes`, '0', '-1')).toEqual(['fz-test2']);

    expect((await freezes.store.remove('fz-test2'))?.reason).toBe('migration');
    expect(await freezes.store.remove('fz-test2')).toBeUndefined();
    expect(await freezes.covering(restartOnProd, now, now)).toEqual([]);
  });
});

describe('when a scheduled action may run', () => {
  const at = utc('2026-12-05T10:00:00Z'); // Saturday

  it('runs at its time when no freeze covers it', async () => {
    const freezes = calendar([]);
    expect(await freezes.runnableAt(restartOnProd, at, [])).toEqual({ ok: true, at, heldBy: [] });
  });

  it('is refused by a freeze that does not hold, unless it overrides it', async () => {
    const freezes = calendar([{ name: 'weekend', every: '0 16 * * 5', for: 64 * 3_600_000 }]);
    expect(await freezes.runnableAt(restartOnProd, at, [])).toMatchObject({
      ok: false,
      freeze: { name: 'weekend' },
    });
    expect(await freezes.runnableAt(restartOnProd, at, ['weekend'])).toMatchObject({ ok: true, at });
  });

  it('waits for holding freezes to end, through back-to-back windows', async () => {
    const freezes = calendar([
      { name: 'weekend', every: '0 16 * * 5', for: 64 * 3_600_000, hold: true },
      { name: 'monday', from: '2026-12-07T08:00', until: '2026-12-07T09:30', hold: true },
    ]);
    const runnable = await freezes.runnableAt(restartOnProd, at, []);
    expect(runnable).toMatchObject({ ok: true, at: utc('2026-12-07T08:30:00Z') });
    if (runnable.ok) expect(runnable.heldBy.map((f) => f.name)).toEqual(['weekend', 'monday']);
  });
});
