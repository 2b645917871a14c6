import { z } from 'zod';
import type { ParamSpec } from '../vendors/types.js';
import { REASON_PARAM } from './grammar.js';
import { reasonSchema } from './reason.js';

/**
 * The calendar's subcommands (change freezes and sticky locks), declared like the other
 * built-ins so that help and parsing treat them alike. Values that need the config (a scope, a
 * target, a time in the channel's zone) are read by the handler (calendar.ts).
 */

/** A reason is required here: a freeze or a lock without one is how they get forgotten. */
const reason = z.string({ error: '--reason "…" is required: say why, in quotes' }).pipe(reasonSchema);

const FOR_PARAM: ParamSpec = {
  name: 'for',
  kind: 'option',
  flag: '--for',
  label: '<duration>',
  help: 'how long, e.g. 30m, 2h, 1d',
  optional: true,
};
const TARGET_WORD: ParamSpec = {
  name: 'target',
  kind: 'positional',
  label: '<vendor.target>',
  help: 'e.g. ece.prod',
};
const RESOURCE_WORD: ParamSpec = {
  name: 'resource',
  kind: 'positional',
  label: '<resource>',
  help: 'one resource of the target (e.g. an ECE deployment id); without it, the whole target',
  optional: true,
};
const REQUIRED_REASON: ParamSpec = { ...REASON_PARAM, optional: false };
const target = z
  .string({ error: '<vendor.target> is missing' })
  .regex(/^[a-z0-9_-]+\.[a-z0-9_-]{1,32}$/, 'name a target as vendor.target, e.g. ece.prod');
const resource = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._,:-]{0,127}$/, 'a resource is an id such as an ECE deployment id')
  .optional();

export const CALENDAR_BUILTINS = {
  freeze: {
    summary: 'stop changes in a scope for a while (a change freeze)',
    params: [
      {
        name: 'scope',
        kind: 'positional',
        label: '<scope>',
        help: '*, ece, ece.prod, ece.resource.restart@prod',
      },
      FOR_PARAM,
      {
        name: 'until',
        kind: 'option',
        flag: '--until',
        label: '<time>',
        help: 'until when: HH:MM in this channel’s time zone, or ISO 8601',
        optional: true,
      },
      REQUIRED_REASON,
      {
        name: 'hold',
        kind: 'flag',
        flag: '--hold',
        label: '',
        help: 'scheduled actions that fall in it run when it ends instead of being refused',
        optional: true,
      },
      {
        name: 'name',
        kind: 'option',
        flag: '--name',
        label: '<name>',
        help: 'what to call it (default: a short id)',
        optional: true,
      },
    ] as ParamSpec[],
    args: z
      .object({
        scope: z.string({ error: '<scope> is missing' }),
        for: z.string().optional(),
        until: z.string().optional(),
        reason,
        hold: z.literal(true).optional().transform(Boolean),
        name: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'freeze names are lowercase letters, digits, _ and -')
          .optional(),
      })
      .refine((args) => (args.for === undefined) !== (args.until === undefined), {
        error: 'say how long with --for <duration> or --until <time> (one of the two)',
      }),
    example: 'freeze ece.prod --for 2h --reason "OPS-42 storage migration"',
  },
  unfreeze: {
    summary: 'lift a change freeze set from Slack',
    params: [
      { name: 'name', kind: 'positional', label: '<name>', help: 'as /ops freezes shows it' },
    ] as ParamSpec[],
    args: z.object({ name: z.string({ error: '<name> is missing' }).max(40) }),
    example: 'unfreeze fz-3k9q2m',
  },
  freezes: {
    summary: 'change freezes in effect and coming',
    params: [] as ParamSpec[],
    args: z.object({}),
    example: 'freezes',
  },
  lock: {
    summary: 'keep others’ actions off a target or one resource for a while (a sticky lock)',
    params: [
      TARGET_WORD,
      RESOURCE_WORD,
      FOR_PARAM,
      REQUIRED_REASON,
      {
        name: 'takeOver',
        kind: 'flag',
        flag: '--take-over',
        label: '',
        help: 'take over someone else’s lock (approvers of the target only)',
        optional: true,
      },
    ] as ParamSpec[],
    args: z.object({
      target,
      resource,
      for: z.string().optional(),
      reason,
      takeOver: z.literal(true).optional().transform(Boolean),
    }),
    example: 'lock ece.prod 3f5a9c0e2b7d4e1f8a6b5c4d3e2f1a0b --for 2h --reason "debugging a node"',
  },
  unlock: {
    summary: 'release a sticky lock',
    params: [TARGET_WORD, RESOURCE_WORD] as ParamSpec[],
    args: z.object({ target, resource }),
    example: 'unlock ece.prod 3f5a9c0e2b7d4e1f8a6b5c4d3e2f1a0b',
  },
  locks: {
    summary: 'sticky locks held now',
    params: [] as ParamSpec[],
    args: z.object({}),
    example: 'locks',
  },
} as const;

export type CalendarCommandName = keyof typeof CALENDAR_BUILTINS;

export type CalendarArgs = {
  [K in CalendarCommandName]: z.infer<(typeof CALENDAR_BUILTINS)[K]['args']>;
};

export function isCalendarCommand(word: string): word is CalendarCommandName {
  return Object.hasOwn(CALENDAR_BUILTINS, word);
}
