import { CronExpressionParser } from 'cron-parser';
import { type DateObjectUnits, DateTime, IANAZone } from 'luxon';
import { parseDuration } from '../config/duration.js';

/**
 * Times, time zones and cron, in one place, on one library: luxon (cron-parser computes its
 * occurrences with luxon too). Instants are epoch milliseconds (UTC) everywhere else in opsbot;
 * they are shown with Slack's date token (slack/mrkdwn.ts `slackDate`), so each reader sees their
 * own time zone.
 *
 * Daylight saving time, decided once for every wall-clock time opsbot reads (`HH:MM`, an ISO time
 * without an offset, a cron occurrence, the end of a recurring window):
 * - a time that does not exist (02:30 on the spring-forward day in Europe/Berlin) is moved forward
 *   by the gap: 03:30, the same moment a clock that was not changed would show;
 * - a time that exists twice (02:30 on the fall-back day) is the first of the two: a recurring
 *   window or a schedule starts once, at the earlier one.
 */

/**
 * Thrown for a time, zone, duration or cron expression that cannot be read; the message quotes
 * what was typed (`input`) and says how to write it.
 */
export class TimeInputError extends Error {
  constructor(
    readonly input: string,
    private readonly after: string,
    private readonly before = '',
  ) {
    super(`${before}"${input}"${after}`);
    this.name = 'TimeInputError';
  }

  /** The message with what was typed shown by `quote` (for Slack: a short escaped excerpt). */
  shown(quote: (typed: string) => string): string {
    return `${this.before}"${quote(this.input)}"${this.after}`;
  }
}

export const TIME_EXAMPLES = 'e.g. 16:30, 2026-12-05T16:30 or 2026-12-05T15:30Z';

/** An IANA time zone name, as written (`Europe/Berlin`, `UTC`); throws if luxon does not know it. */
export function checkZone(name: string): string {
  if (IANAZone.isValidZone(name)) return name;
  throw new TimeInputError(
    name,
    ' (an IANA name such as Europe/Berlin, America/New_York or UTC)',
    'unknown time zone ',
  );
}

/**
 * A moment someone typed: ISO 8601 with an offset (`2026-12-05T15:30Z`, `…T16:30+01:00`), ISO 8601
 * without one (`2026-12-05T16:30`, read in `zone`), or `HH:MM` in `zone`: its next occurrence
 * after `now` (today if it is still ahead, else tomorrow).
 */
export function parseInstant(text: string, zone: string, now: number): number {
  const clock = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (clock) {
    const hour = Number(clock[1]);
    const minute = Number(clock[2]);
    if (hour > 23 || minute > 59) throw notATime(text, zone);
    const today = DateTime.fromMillis(now, { zone });
    // Today's, unless it has passed; then tomorrow's (a day after a gap moved it, at the latest).
    for (const day of [0, 1, 2].map((days) => today.plus({ days }))) {
      const at = wallClock(zone, { year: day.year, month: day.month, day: day.day, hour, minute });
      if (at > now) return at;
    }
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text)) throw notATime(text, zone);
  const parsed = DateTime.fromISO(text, { zone, setZone: true });
  if (!parsed.isValid) throw notATime(text, zone);
  const hasOffset = /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(text);
  return hasOffset ? parsed.toMillis() : wallClock(zone, parsed.toObject());
}

function notATime(text: string, zone: string): TimeInputError {
  return new TimeInputError(text, ` is not a time: write HH:MM (in ${zone}) or ISO 8601 (${TIME_EXAMPLES})`);
}

/** A duration someone typed (`90m`, `2h`, `1d`); throws, with an example, if it is not one or is zero. */
export function parseDurationText(text: string, what: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0 || !/[a-z]$/.test(text.trim()))
    throw new TimeInputError(text, ' is not a duration: write e.g. 30m, 2h or 1d', `${what} `);
  return ms;
}

/** A wall-clock time in a zone as an instant, with the DST decisions above. */
export function wallClock(zone: string, parts: DateObjectUnits): number {
  const at = DateTime.fromObject({ second: 0, millisecond: 0, ...parts }, { zone });
  // Twice on a fall-back day: the earlier of the two. In a gap luxon has already moved it forward.
  return Math.min(...at.getPossibleOffsets().map((candidate) => candidate.toMillis()), at.toMillis());
}

/**
 * The end of a window that starts at `start` and lasts `ms` on the wall clock of `zone`: from a
 * Friday 16:00, 64h ends on Monday at 08:00 local time, also on a weekend the clocks change.
 */
export function plusWallClock(start: number, ms: number, zone: string): number {
  const local = DateTime.fromMillis(start, { zone }).setZone('UTC', { keepLocalTime: true });
  const end = local.plus({ milliseconds: ms }).setZone(zone, { keepLocalTime: true });
  return wallClock(zone, end.toObject());
}

/** A cron expression's occurrences in a zone: minute hour day-of-month month day-of-week. */
export interface Cron {
  expression: string;
  zone: string;
  /** The last occurrence at or before `at`. */
  latestAtOrBefore(at: number): number | undefined;
  /** The first occurrence after `at`. */
  nextAfter(at: number): number | undefined;
}

const CRON_HELP =
  'five fields: minute hour day-of-month month day-of-week, e.g. "0 16 * * 5" (Fridays at 16:00) or "30 2 * * 1-5"';

/** Reads a five-field cron expression; throws, saying what is wrong and how to write it. */
export function parseCron(expression: string, zone: string): Cron {
  checkZone(zone);
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5)
    throw new TimeInputError(
      expression,
      ` is not a cron expression: it has ${fields.length} field${fields.length === 1 ? '' : 's'}; write ${CRON_HELP}`,
    );
  const iterate = (currentDate: number) =>
    CronExpressionParser.parse(fields.join(' '), { currentDate: new Date(currentDate), tz: zone });
  try {
    iterate(Date.now()).next();
  } catch (error) {
    // Config only (declared freezes): the library's own words may repeat the expression.
    throw new TimeInputError(
      expression,
      ` is not a cron expression (${(error as Error).message}); write ${CRON_HELP}`,
    );
  }
  const occurrence = (step: () => { toDate(): Date }): number | undefined => {
    try {
      return step().toDate().getTime();
    } catch {
      return undefined; // no occurrence that way (an expression such as "0 0 30 2 *")
    }
  };
  return {
    expression,
    zone,
    latestAtOrBefore: (at) => {
      // prev() is strictly before its current date: 1 ms on includes `at` itself.
      const back = iterate(at + 1);
      let latest = occurrence(() => back.prev());
      if (latest === undefined) return undefined;
      // prev() passes over an occurrence a DST gap moved forward (02:30 → 03:30), which next()
      // finds: step forward from what it found, so both ways agree.
      const forward = iterate(latest);
      for (let next = occurrence(() => forward.next()); next !== undefined && next <= at; ) {
        latest = next;
        next = occurrence(() => forward.next());
      }
      return latest;
    },
    nextAfter: (at) => {
      const iterator = iterate(at);
      return occurrence(() => iterator.next());
    },
  };
}

/** An instant as plain text for logs and the audit trail: `2026-12-05 15:30 UTC`. */
export function plainInstant(at: number): string {
  const iso = new Date(at).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** How long ago, in words short enough for a line: `25m`, `3h 10m`, `2d 4h`. */
export function shortDuration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${minutes % 60 ? ` ${minutes % 60}m` : ''}`;
  return `${Math.floor(hours / 24)}d${hours % 24 ? ` ${hours % 24}h` : ''}`;
}
