import { z } from 'zod';
import { InputError } from '../errors.js';
import { excerpt } from '../slack/mrkdwn.js';
import { allActions, findActionById, findVendor, VENDORS } from '../vendors/registry.js';
import type { ActionDef, ParamSpec, VendorModule } from '../vendors/types.js';
import {
  CALENDAR_BUILTINS,
  type CalendarArgs,
  type CalendarCommandName,
  isCalendarCommand,
} from './calendar-grammar.js';
import {
  AT_PARAM,
  bindWords,
  DRY_RUN_PARAM,
  OVERRIDE_PARAM,
  REASON_PARAM,
  TARGET_PARAM,
  tokenize,
  usageOf,
  validateArgs,
} from './grammar.js';
import { reasonSchema } from './reason.js';

/** What a person asked for, once the words are understood and every argument validated. */
export type OpsCommand =
  | { kind: 'help'; vendor?: string | undefined }
  | {
      kind: 'action';
      vendor: VendorModule;
      action: ActionDef;
      args: unknown;
      target: string | undefined;
      dryRun: boolean;
      /** `--reason`, trimmed; policy may require one (checked when the request is asked). */
      reason: string | undefined;
      /** `--at`: when to run it, as typed (read in the channel's time zone by the handler). */
      at: string | undefined;
      /** `--override`: break-glass during a change freeze. */
      override: boolean;
    }
  | {
      [K in CalendarCommandName]: { kind: 'calendar'; command: K; args: CalendarArgs[K] };
    }[CalendarCommandName]
  | { kind: 'status'; requestId: string }
  | { kind: 'cancel'; requestId: string; reason: string | undefined }
  | { kind: 'history'; mine: boolean; target: string | undefined; limit: number }
  | { kind: 'whoami'; actionId: string | undefined; target: string | undefined }
  | { kind: 'audit-verify' };

const requestIdSchema = z
  .string({ error: '<request-id> is missing' })
  .regex(/^op-[a-z0-9]{6,12}$/, 'request ids look like op-7k3m9q (shown on every approval message)');

const targetNameSchema = z
  .string()
  .regex(/^[a-z0-9_-]{1,32}$/, 'target names are lowercase letters, digits, _ and -');

/** The built-in subcommands, declared like actions so help and parsing treat them alike. */
export const BUILTINS = {
  status: {
    summary: 'show a request: its state, timeline and thread',
    params: [
      { name: 'requestId', kind: 'positional', label: '<request-id>', help: 'e.g. op-7k3m9q' },
    ] as ParamSpec[],
    args: z.object({ requestId: requestIdSchema }),
    example: 'status op-7k3m9q',
  },
  history: {
    summary: 'recent requests in this channel',
    params: [
      { name: 'mine', kind: 'flag', flag: '--mine', label: '', help: 'only my requests', optional: true },
      {
        name: 'target',
        kind: 'option',
        flag: '--target',
        label: '<name>',
        help: 'only this target',
        optional: true,
      },
      {
        name: 'limit',
        kind: 'option',
        flag: '--limit',
        label: '<n>',
        help: 'how many (default 10)',
        optional: true,
      },
    ] as ParamSpec[],
    args: z.object({
      mine: z.literal(true).optional().transform(Boolean),
      target: targetNameSchema.optional(),
      limit: z.coerce
        .number({ error: '--limit must be a number' })
        .int('--limit must be a whole number')
        .min(1, '--limit must be at least 1')
        .max(50, '--limit can be at most 50')
        .default(10),
    }),
    example: 'history --mine --limit 5',
  },
  cancel: {
    summary: 'withdraw a pending request, or stop one in flight',
    params: [
      { name: 'requestId', kind: 'positional', label: '<request-id>', help: 'e.g. op-7k3m9q' },
      REASON_PARAM,
    ] as ParamSpec[],
    args: z.object({ requestId: requestIdSchema, reason: reasonSchema.optional() }),
    example: 'cancel op-7k3m9q --reason "fixed by hand"',
  },
  whoami: {
    summary: 'what you may request and approve here, and why',
    params: [
      {
        name: 'action',
        kind: 'positional',
        label: '<action>',
        help: 'e.g. ece.resource.restart',
        optional: true,
      },
      {
        name: 'target',
        kind: 'option',
        flag: '--target',
        label: '<name>',
        help: 'only this target',
        optional: true,
      },
    ] as ParamSpec[],
    args: z.object({
      action: z
        .string()
        .refine((id) => findActionById(id) !== undefined, {
          error: (issue) =>
            `unknown action "${excerpt(String(issue.input))}" (actions: ${allActions()
              .map(({ action }) => action.id)
              .join(', ')})`,
        })
        .optional(),
      target: targetNameSchema.optional(),
    }),
    example: 'whoami ece.resource.restart',
  },
  audit: {
    summary: 'check that the stored audit trail is intact (its hash chain); for auditors',
    params: [
      { name: 'check', kind: 'positional', label: 'verify', help: 'recompute the chain and compare' },
    ] as ParamSpec[],
    args: z.object({
      check: z.string().refine((word) => word.toLowerCase() === 'verify', {
        error: (issue) => `unknown audit command "${excerpt(String(issue.input))}" (audit commands: verify)`,
      }),
    }),
    example: 'audit verify',
    /** Listed in help for `policy.auditors` only, the only people it answers. */
    auditorsOnly: true,
  },
  ...CALENDAR_BUILTINS,
} as const;

/** An action's own params, then those every action understands (`--reason` where it changes something). */
export function actionParams(action: ActionDef): ParamSpec[] {
  return action.mode === 'read'
    ? [...action.params, TARGET_PARAM]
    : [...action.params, TARGET_PARAM, REASON_PARAM, DRY_RUN_PARAM, AT_PARAM, OVERRIDE_PARAM];
}

export function actionUsage(command: string, vendor: VendorModule, action: ActionDef): string {
  return usageOf(command, { words: [vendor.name, action.verb], params: actionParams(action) });
}

function isBuiltin(word: string): word is keyof typeof BUILTINS {
  return Object.hasOwn(BUILTINS, word);
}

/**
 * Parses the text after the slash command. Throws InputError with the right usage on bad input.
 * Subcommands, vendor names and verbs are case-insensitive (`/ops ECE Restart`); ids and
 * argument values keep their case.
 */
export function parseOpsCommand(text: string, command: string): OpsCommand {
  const words = tokenize(text);
  const [typed, second] = words.map((word) => word.text);
  const rest = words.slice(2);
  const first = typed?.toLowerCase();
  const overview = `${command} help`;
  if (first === undefined || first === 'help') return { kind: 'help', vendor: helpVendor(second, command) };

  if (isBuiltin(first)) {
    const builtin = BUILTINS[first];
    const usage = usageOf(command, { words: [first], params: builtin.params });
    const raw = bindWords(words.slice(1), { words: [first], params: builtin.params }, usage);
    const args = validateArgs(builtin.args as z.ZodType, raw, usage) as Record<string, unknown>;
    if (isCalendarCommand(first)) return { kind: 'calendar', command: first, args } as OpsCommand;
    if (first === 'whoami') {
      return {
        kind: 'whoami',
        actionId: args.action as string | undefined,
        target: args.target as string | undefined,
      };
    }
    if (first === 'audit') return { kind: 'audit-verify' };
    if (first === 'history') {
      return {
        kind: 'history',
        mine: args.mine as boolean,
        target: args.target as string | undefined,
        limit: args.limit as number,
      };
    }
    if (first === 'cancel') {
      return {
        kind: 'cancel',
        requestId: args.requestId as string,
        reason: args.reason as string | undefined,
      };
    }
    return { kind: first, requestId: args.requestId as string };
  }

  const vendor = findVendor(first);
  if (!vendor) {
    const names = [...VENDORS.map((v) => v.name), ...Object.keys(BUILTINS), 'help'].join(', ');
    throw new InputError(`unknown command "${excerpt(typed!)}" (commands: ${names})`, overview);
  }
  const verbs = vendor.actions.map((a) => a.verb).join(', ');
  const verb = second?.toLowerCase();
  if (verb === undefined || verb === 'help') return { kind: 'help', vendor: vendor.name };
  const action = vendor.actions.find((a) => a.verb === verb);
  if (!action) {
    throw new InputError(
      `${vendor.name} has no action "${excerpt(second!)}" (actions: ${verbs})`,
      `${command} help ${vendor.name}`,
    );
  }
  const usage = actionUsage(command, vendor, action);
  const raw = bindWords(rest, { words: [vendor.name, action.verb], params: actionParams(action) }, usage);
  const { target, dryRun, reason, at, override, ...own } = raw;
  const args = validateArgs(action.args, own, usage);
  return {
    kind: 'action',
    vendor,
    action,
    args,
    target: typeof target === 'string' ? target : undefined,
    dryRun: dryRun === true,
    reason: reason === undefined ? undefined : validateArgs(reasonSchema, reason, usage),
    at: typeof at === 'string' ? at : undefined,
    override: override === true,
  };
}

/** `/ops help <word>`: a vendor's help, or the overview for a subcommand; anything else is a typo. */
function helpVendor(word: string | undefined, command: string): string | undefined {
  const name = word?.toLowerCase();
  if (name === undefined || name === 'help' || isBuiltin(name)) return undefined;
  if (findVendor(name)) return name;
  throw new InputError(
    `no vendor "${excerpt(word!)}" (vendors: ${VENDORS.map((v) => v.name).join(', ')})`,
    `${command} help [vendor]`,
  );
}
