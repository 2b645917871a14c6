import { randomBytes } from 'node:crypto';
import { freezeMrkdwn } from '../calendar/freeze-text.js';
import type { Freeze } from '../calendar/freezes.js';
import { describeScope, parseScope } from '../calendar/scope.js';
import { parseDurationText, parseInstant, plainInstant, TimeInputError } from '../calendar/time.js';
import { InputError } from '../errors.js';
import { type SlackMessage, section } from '../slack/blocks.js';
import { excerpt, slackDate } from '../slack/mrkdwn.js';
import type { CalendarArgs } from './calendar-grammar.js';
import type { OpsCommandDeps, QueuedCommand } from './ops-command.js';
import type { OpsCommand } from './parse.js';

/**
 * The calendar's subcommands: `/ops freeze`, `unfreeze`, `freezes` (and the sticky locks').
 * Answers are private to whoever asked; what changed is in the audit trail, in `/ops freezes`,
 * and in every refusal, help and whoami while it lasts.
 */

type CalendarCommand = Extract<OpsCommand, { kind: 'calendar' }>;
type Reply = (message: SlackMessage) => Promise<unknown>;

export async function calendarCommand(
  deps: OpsCommandDeps,
  command: QueuedCommand,
  parsed: CalendarCommand,
  reply: Reply,
): Promise<void> {
  try {
    switch (parsed.command) {
      case 'freeze':
        return await freeze(deps, command, parsed.args, reply);
      case 'unfreeze':
        return await unfreeze(deps, command, parsed.args, reply);
      case 'freezes':
        return await listFreezes(deps, command, reply);
      default:
        throw new InputError(`${parsed.command} is not available yet`);
    }
  } catch (error) {
    // A time, duration or zone that cannot be read is bad input like any other.
    if (error instanceof TimeInputError) throw new InputError(excerptTime(error.message));
    throw error;
  }
}

/** Time errors quote what was typed; keep the quote short and escaped like any echo. */
function excerptTime(message: string): string {
  return message.replace(/"([^"]*)"/, (_, typed: string) => `"${excerpt(typed)}"`);
}

async function mayChangeFreezes(deps: OpsCommandDeps, user: string): Promise<void> {
  const roles = deps.config.policy.freezes.setBy;
  if (await deps.calendar.inRoles(roles, user)) return;
  throw new InputError(
    roles.length === 0
      ? 'nobody may set or lift change freezes from Slack here (policy.freezes.setBy names no role).'
      : `only ${roles.map((role) => `@${role}`).join(' or ')} may set or lift change freezes.`,
  );
}

async function freeze(
  deps: OpsCommandDeps,
  command: QueuedCommand,
  args: CalendarArgs['freeze'],
  reply: Reply,
): Promise<void> {
  const user = command.userId;
  await mayChangeFreezes(deps, user);
  const scope = parseScope(args.scope, (vendor) => deps.calendar.targetsOf(vendor));
  if (typeof scope === 'string') throw new InputError(excerptScope(scope));
  const now = command.receivedAt;
  const end =
    args.for !== undefined
      ? now + parseDurationText(args.for, '--for')
      : parseInstant(args.until!, deps.calendar.zoneOf(command.channelId), now);
  if (end <= now) throw new InputError(`--until ${excerpt(args.until!)} has passed: give a time ahead`);
  const name = args.name ?? `fz-${randomBytes(3).toString('hex')}`;
  if (deps.calendar.freezes.isDeclared(name))
    throw new InputError(`${name} is the name of a freeze declared in the config: pick another --name`);
  const set: Freeze & { setBy: string } = {
    name,
    scopes: [scope],
    reason: args.reason,
    start: now,
    end,
    hold: args.hold,
    overrideBy: deps.config.policy.freezes.overrideBy,
    setBy: user,
  };
  if (!(await deps.calendar.freezes.store.add(set, now)))
    throw new InputError(`a freeze named ${name} is in effect already: pick another --name`);
  await deps.store.audit({
    kind: 'freeze',
    actor: user,
    text: `froze ${describeScope(scope)} until ${plainInstant(end)} as ${name}: ${args.reason}`,
  });
  deps.log.info({ user, freeze: name, scope: scope.text, end }, 'change freeze set');
  await reply(
    section(
      `:snowflake: Change freeze set: ${freezeMrkdwn(set)}.\nRequests in its scope are refused until then; \`${deps.config.slack.command} unfreeze ${name}\` lifts it.`,
    ),
  );
}

function excerptScope(message: string): string {
  return message.replace(/^"([^"]*)"/, (_, typed: string) => `"${excerpt(typed)}"`);
}

async function unfreeze(
  deps: OpsCommandDeps,
  command: QueuedCommand,
  args: CalendarArgs['unfreeze'],
  reply: Reply,
): Promise<void> {
  const user = command.userId;
  if (deps.calendar.freezes.isDeclared(args.name))
    throw new InputError(
      `${excerpt(args.name)} is declared in the config (policy.freezes.windows): it can be overridden per request with --override, or removed from the config.`,
    );
  await mayChangeFreezes(deps, user);
  const lifted = await deps.calendar.freezes.store.remove(args.name);
  if (!lifted)
    throw new InputError(
      `no change freeze named ${excerpt(args.name)} is in effect (\`${deps.config.slack.command} freezes\` lists them)`,
    );
  await deps.store.audit({
    kind: 'unfreeze',
    actor: user,
    text: `lifted change freeze ${lifted.name} (${lifted.reason})`,
  });
  deps.log.info({ user, freeze: lifted.name }, 'change freeze lifted');
  await reply(section(`:sunny: Change freeze *${lifted.name}* lifted.`));
}

async function listFreezes(deps: OpsCommandDeps, command: QueuedCommand, reply: Reply): Promise<void> {
  const { active, upcoming } = await deps.calendar.freezes.overview(command.receivedAt);
  const lines =
    active.length > 0
      ? ['*Change freezes in effect*', ...active.map((f) => `• :snowflake: ${freezeMrkdwn(f)}`)]
      : ['No change freeze is in effect.'];
  if (upcoming.length > 0) {
    lines.push('*Coming*');
    for (const freeze of upcoming) lines.push(`• ${slackDate(freeze.start)}: ${freezeMrkdwn(freeze)}`);
  }
  await reply(section(lines.join('\n')));
}
