import { describe, expect, it } from 'vitest';
import {
  checkZone,
  parseCron,
  parseDurationText,
  parseInstant,
  plusWallClock,
  TimeInputError,
} from '../../src/calendar/time.js';

/**
 * The time library: what a person types (HH:MM, ISO 8601, durations, cron), read in a zone, and the
 * two DST decisions (a time that does not exist moves forward by the gap; a time that exists twice
 * is the first of the two), on Europe/Berlin's 2026 transitions: 29 March 02:00 → 03:00 and
 * 25 October 03:00 → 02:00.
 */

const utc = (iso: string) => Date.parse(iso);
const BERLIN = 'Europe/Berlin';

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TimeInputError);
    return (error as Error).message;
  }
  throw new Error('no error');
}

describe('instants', () => {
  it('reads HH:MM as its next occurrence in the zone: today if ahead, else tomorrow', () => {
    const now = utc('2026-12-04T14:00:00Z'); // 15:00 in Berlin
    expect(parseInstant('16:30', BERLIN, now)).toBe(utc('2026-12-04T15:30:00Z'));
    expect(parseInstant('09:05', BERLIN, now)).toBe(utc('2026-12-05T08:05:00Z'));
    expect(parseInstant('9:05', 'UTC', now)).toBe(utc('2026-12-05T09:05:00Z'));
  });

  it('reads ISO 8601 with an offset as written, and without one in the zone', () => {
    expect(parseInstant('2026-12-05T15:30Z', BERLIN, 0)).toBe(utc('2026-12-05T15:30:00Z'));
    expect(parseInstant('2026-12-05T16:30:00+01:00', 'UTC', 0)).toBe(utc('2026-12-05T15:30:00Z'));
    expect(parseInstant('2026-12-05T16:30', BERLIN, 0)).toBe(utc('2026-12-05T15:30:00Z'));
    expect(parseInstant('2026-07-05T16:30', BERLIN, 0)).toBe(utc('2026-07-05T14:30:00Z'));
  });

  it('moves a time that does not exist forward by the gap (spring forward)', () => {
    const before = utc('2026-03-28T12:00:00Z');
    // 02:30 on 29 March never shows on a Berlin clock: it is 03:30 CEST, 01:30 UTC.
    expect(parseInstant('02:30', BERLIN, utc('2026-03-28T23:00:00Z'))).toBe(utc('2026-03-29T01:30:00Z'));
    expect(parseInstant('2026-03-29T02:30', BERLIN, before)).toBe(utc('2026-03-29T01:30:00Z'));
  });

  it('takes the first of a time that happens twice (fall back)', () => {
    // 02:30 on 25 October is 00:30 UTC (CEST) and again 01:30 UTC (CET): the first.
    expect(parseInstant('2026-10-25T02:30', BERLIN, 0)).toBe(utc('2026-10-25T00:30:00Z'));
    expect(parseInstant('02:30', BERLIN, utc('2026-10-24T22:00:00Z'))).toBe(utc('2026-10-25T00:30:00Z'));
  });

  it.each([
    ['25:00', '"25:00" is not a time: write HH:MM (in Europe/Berlin) or ISO 8601 (e.g. 16:30,'],
    ['tomorrow', '"tomorrow" is not a time'],
    ['2026-13-05T16:00', '"2026-13-05T16:00" is not a time: write HH:MM'],
    ['16h30', 'write HH:MM'],
  ])('refuses %j with an example', (text, message) => {
    expect(refusal(() => parseInstant(text, BERLIN, 0))).toContain(message);
  });
});

describe('zones and durations', () => {
  it('knows IANA zones and refuses others with an example', () => {
    expect(checkZone('America/New_York')).toBe('America/New_York');
    expect(checkZone('UTC')).toBe('UTC');
    expect(refusal(() => checkZone('Mars/Olympus'))).toBe(
      'unknown time zone "Mars/Olympus" (an IANA name such as Europe/Berlin, America/New_York or UTC)',
    );
  });

  it('reads durations with a unit and refuses the rest', () => {
    expect(parseDurationText('90m', '--for')).toBe(90 * 60_000);
    expect(parseDurationText('2h', '--for')).toBe(7_200_000);
    for (const text of ['2', '0h', 'soon', '-1h'])
      expect(refusal(() => parseDurationText(text, '--for'))).toBe(
        `--for "${text}" is not a duration: write e.g. 30m, 2h or 1d`,
      );
  });
});

describe('cron', () => {
  it('finds occurrences in the zone, the latest at or before a moment and the next after it', () => {
    const fridays = parseCron('0 16 * * 5', BERLIN);
    const friday = utc('2026-12-04T15:00:00Z'); // Friday 16:00 in Berlin
    expect(fridays.latestAtOrBefore(friday)).toBe(friday);
    expect(fridays.latestAtOrBefore(friday - 1)).toBe(utc('2026-11-27T15:00:00Z'));
    expect(fridays.nextAfter(friday)).toBe(utc('2026-12-11T15:00:00Z'));
  });

  it('runs a daily 02:30 once on both transition days: moved to 03:30, and at the first 02:30', () => {
    const daily = parseCron('30 2 * * *', BERLIN);
    expect(daily.nextAfter(utc('2026-03-28T12:00:00Z'))).toBe(utc('2026-03-29T01:30:00Z'));
    expect(daily.nextAfter(utc('2026-10-24T12:00:00Z'))).toBe(utc('2026-10-25T00:30:00Z'));
    // Not again at the second 02:30 (01:30 UTC): the next one is on the 26th.
    expect(daily.nextAfter(utc('2026-10-25T00:30:00Z'))).toBe(utc('2026-10-26T01:30:00Z'));
  });

  it.each([
    [
      '0 16 * *',
      'it has 4 fields; write five fields: minute hour day-of-month month day-of-week, e.g. "0 16 * * 5"',
    ],
    ['61 * * * *', '(Constraint error, got value 61 expected range 0-59)'],
    ['0 16 * * fry', 'cannot resolve alias "fry"'],
  ])('refuses %j, saying how to write one', (expression, message) => {
    expect(refusal(() => parseCron(expression, BERLIN))).toContain(message);
  });
});

describe('windows on the wall clock', () => {
  it('ends a Friday 16:00 + 64h window on Monday 08:00 local, also over the spring-forward weekend', () => {
    expect(plusWallClock(utc('2026-12-04T15:00:00Z'), 64 * 3_600_000, BERLIN)).toBe(
      utc('2026-12-07T07:00:00Z'),
    );
    // 27 March 16:00 CET → 30 March 08:00 CEST: 63 hours pass, the clock shows 64.
    expect(plusWallClock(utc('2026-03-27T15:00:00Z'), 64 * 3_600_000, BERLIN)).toBe(
      utc('2026-03-30T06:00:00Z'),
    );
  });
});
