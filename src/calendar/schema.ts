import { z } from 'zod';
import { duration } from '../config/duration.js';
import { roleName } from '../policy/schema.js';
import { parseCron, TimeInputError } from './time.js';
import { timeZone } from './zone.js';

/**
 * The calendar's part of the `policy` section: the time zone times are read in, change freezes
 * declared in the config, sticky locks and scheduled actions. References (role names, scopes) are
 * checked against the rest of the config by `problems.ts`.
 */

/** What a freeze covers: `*`, a vendor, `vendor.target`, an action id, or `action@target`. */
const scopes = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((value) => [value].flat());

/** A wall-clock time in ISO 8601 (`2026-12-20T00:00`), read in the window's zone, or with an offset. */
const isoTime = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/,
    'must be an ISO 8601 time such as 2026-12-20T00:00 (in timeZone) or 2026-12-19T23:00Z',
  );

/**
 * A change freeze declared in the config: a fixed window (`from`, `until`) or a recurring one
 * (`every`, a cron expression, for `for`, measured on the wall clock of `timeZone`).
 */
const declaredFreeze = z
  .object({
    /** How messages and `/ops freezes` name it. */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'freeze names are lowercase letters, digits, _ and -'),
    scope: scopes.default(['*']),
    reason: z.string().min(1).max(300),
    /** Default `policy.timeZone`. */
    timeZone: timeZone.optional(),
    from: isoTime.optional(),
    until: isoTime.optional(),
    every: z.string().optional(),
    for: duration.optional(),
    /** A scheduled action that would run during the freeze runs when it ends, instead of being refused. */
    hold: z.boolean().default(false),
    /** The role whose approval a break-glass override adds. Default `policy.freezes.overrideBy`. */
    overrideBy: roleName.optional(),
  })
  .strict()
  .superRefine((freeze, ctx) => {
    const fixed = freeze.from !== undefined || freeze.until !== undefined;
    const recurring = freeze.every !== undefined || freeze.for !== undefined;
    if (fixed === recurring) {
      ctx.addIssue({
        code: 'custom',
        message: 'set either from and until (a fixed window) or every and for (a recurring one)',
      });
      return;
    }
    if (fixed && (freeze.from === undefined || freeze.until === undefined))
      ctx.addIssue({ code: 'custom', message: 'a fixed window needs both from and until' });
    if (recurring && (freeze.every === undefined || !freeze.for))
      ctx.addIssue({
        code: 'custom',
        message: 'a recurring window needs every (cron) and for (a duration above 0)',
      });
    if (freeze.every !== undefined) {
      try {
        // The zone is checked on its own key; here only the expression.
        parseCron(freeze.every, 'UTC');
      } catch (error) {
        if (error instanceof TimeInputError)
          ctx.addIssue({ code: 'custom', path: ['every'], message: error.message });
      }
    }
  });
export type DeclaredFreezeConfig = z.infer<typeof declaredFreeze>;

export const calendarSettings = {
  /** The zone `HH:MM` and ISO times without an offset are read in. Default UTC. */
  timeZone: timeZone.default('UTC'),
  freezes: z
    .object({
      /** Roles that may set and lift freezes from Slack (`/ops freeze`, `/ops unfreeze`). Default nobody. */
      setBy: z.array(roleName).default([]),
      /** The role whose approval a break-glass override adds, for freezes that name none. */
      overrideBy: roleName.optional(),
      /** Freezes declared here, fixed or recurring. */
      windows: z.array(declaredFreeze).default([]),
    })
    .strict()
    .default({ setBy: [], windows: [] }),
  locks: z
    .object({
      /** The longest a sticky lock may be held (`/ops lock --for`); without `--for`, 1h or this if less. */
      maxDuration: duration.default(8 * 3_600_000),
      /** How long before it expires its holder is told. */
      warnBefore: duration.default(10 * 60_000),
    })
    .strict()
    .default({ maxDuration: 8 * 3_600_000, warnBefore: 10 * 60_000 }),
  schedule: z
    .object({
      /** How far ahead `--at` may be. */
      horizon: duration.default(7 * 86_400_000),
    })
    .strict()
    .default({ horizon: 7 * 86_400_000 }),
};
