import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { problemsOf } from '../config/problems.js';

/** The calendar's config keys: defaults, and every mistake refused with its key and an example. */

const ENV = { T: 'xoxb-1', S: 'signing-secret-1', P: 'password-1' };

function load(policy: Record<string, unknown>) {
  return loadConfig({
    env: ENV,
    document: {
      slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
      targets: { ece: { prod: { url: 'https://ece.example.com:12443', apiKey: { env: 'P' } } } },
      policy: {
        channels: ['C0OPS1'],
        roles: { sre: { users: ['U0SRE1'] }, cab: { users: ['U0CAB1'] } },
        ...policy,
      },
    },
  });
}

describe('calendar configuration', () => {
  it('defaults to UTC, no freezes, 8h locks warned 10 minutes ahead, and a 7-day horizon', () => {
    const { policy } = load({});
    expect(policy.timeZone).toBe('UTC');
    expect(policy.freezes).toEqual({ setBy: [], windows: [] });
    expect(policy.locks).toEqual({ maxDuration: 8 * 3_600_000, warnBefore: 10 * 60_000 });
    expect(policy.schedule).toEqual({ horizon: 7 * 86_400_000 });
  });

  it('loads declared freezes, fixed and recurring, and a channel with a zone of its own', () => {
    const { policy } = load({
      timeZone: 'Europe/Berlin',
      channels: { C0OPS1: { timeZone: 'America/New_York' } },
      freezes: {
        setBy: ['sre'],
        overrideBy: 'cab',
        windows: [
          { name: 'weekend', every: '0 16 * * 5', for: '64h', reason: 'weekend', hold: true },
          {
            name: 'year-end',
            scope: ['ece.prod'],
            from: '2026-12-20T00:00',
            until: '2027-01-04T08:00',
            reason: 'x',
          },
        ],
      },
    });
    expect(policy.freezes.windows.map((w) => [w.name, w.scope])).toEqual([
      ['weekend', ['*']],
      ['year-end', ['ece.prod']],
    ]);
  });

  it('refuses mistakes, each with its key', () => {
    const problems = problemsOf(() =>
      load({
        timeZone: 'Europe/Berlinn',
        channels: { C0OPS1: { timeZone: 'CEST+1' } },
        freezes: {
          setBy: ['sre', 'ops'],
          overrideBy: 'security',
          windows: [
            { name: 'a', every: '0 16 * *', for: '2h', reason: 'x' },
            { name: 'b', from: '2026-12-20T00:00', reason: 'x' },
            { name: 'c', every: '0 16 * * 5', from: '2026-12-20T00:00', reason: 'x' },
          ],
        },
        locks: { maxDuration: 'forever' },
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('policy.timeZone: unknown time zone "Europe/Berlinn" (an IANA name such as'),
        expect.stringContaining('policy.channels.C0OPS1.timeZone: unknown time zone "CEST+1"'),
        expect.stringContaining(
          'policy.freezes.windows.0.every: "0 16 * *" is not a cron expression: it has 4 fields; write five fields',
        ),
        'policy.freezes.windows.1: a fixed window needs both from and until',
        'policy.freezes.windows.2: set either from and until (a fixed window) or every and for (a recurring one)',
        expect.stringContaining('policy.locks.maxDuration: "forever" is not a duration'),
      ]),
    );
    const references = problemsOf(() =>
      load({
        freezes: {
          setBy: ['sre', 'ops'],
          overrideBy: 'security',
          windows: [
            { name: 'x', scope: 'ece.qa', from: '2026-12-20T00:00', until: '2026-12-19T00:00', reason: 'x' },
            { name: 'x', scope: ['nagios'], every: '0 1 * * *', for: '1h', reason: 'x', overrideBy: 'cba' },
          ],
        },
      }),
    );
    expect(references).toEqual([
      'policy.freezes.setBy.1: unknown role "ops" (roles: sre, cab)',
      'policy.freezes.overrideBy: unknown role "security" (roles: sre, cab)',
      'policy.freezes.windows.0.scope: "ece.qa": ece has no target "qa" (targets: prod)',
      'policy.freezes.windows.0.until: ends before it starts (from 2026-12-20T00:00)',
      'policy.freezes.windows.1.name: "x" is used by another freeze',
      'policy.freezes.windows.1.overrideBy: unknown role "cba" (roles: sre, cab)',
      expect.stringContaining('policy.freezes.windows.1.scope: "nagios" names no vendor opsbot knows'),
    ]);
  });
});
