import { randomBytes } from 'node:crypto';
import { freezeMrkdwn } from '../calendar/freeze-text.js';
import type { Freeze } from '../calendar/freezes.js';
import { lockedThing, lockMrkdwn } from '../calendar/lock-text.js';
import { describeScope, parseScope } from '../calendar/scope.js';
import {
  parseDurationText,
  parseInstant,
  plainInstant,
  shortDuration,
  TimeInputError,
} from '../calendar/time.js';
import { InputError } from '../errors.js';
import { type SlackMessage, section } from '../slack/blocks.js';
import { escapeMrkdwn, excerpt, slackDate } from '../slack/mrkdwn.js';
import { allActions, findVendor, VENDORS } from '../vendors/registry.js';
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
      case 'lock':
        return await lock(deps, command, parsed.args, reply);
      case 'unlock':
        return await unlock(deps, command, parsed.args, reply);
      case 'locks':
        return await listLocks(deps, command, reply);
    }
  } catch (error) {
    // A time, duration or zone that cannot be read is bad input like any other.
    if (error instanceof TimeInputError) throw new InputError(error.shown(excerpt));
    throw error;
  }
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
  const scope = parseScope(args.scope, (vendor) => deps.calendar.targetsOf(vendor), excerpt);
  if (typeof scope === 'string') throw new InputError(scope);
  const now = command.receivedAt;
  const end =
    args.for !== undefined
      ? now + parseDurationText(args.for, '--for')
      : parseInstant(args.until!, deps.calendar.zoneOf(command.channelId), now);
  if (end <= now) throw new InputError(`--until ${excerpt(args.until!)} has passed: give a time ahead`);
  const name = args.name ?? `fz-${randomBytes(3).toString('hex')}`;
  if (deps.calendar.freezes.isDeclared(name))
    throw new InputError(
      `${escapeMrkdwn(name)} is the name of a freeze declared in the config: pick another --name`,
    );
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
    throw new InputError(`a freeze named ${escapeMrkdwn(name)} is in effect already: pick another --name`);
  await deps.store.audit({
    kind: 'freeze',
    actor: user,
    text: `froze ${describeScope(scope)} until ${plainInstant(end)} as ${name}: ${args.reason}`,
  });
  deps.log.info({ user, freeze: name, scope: scope.text, end }, 'change freeze set');
  await reply(
    section(
      `:snowflake: Change freeze set: ${freezeMrkdwn(set)}.\nRequests in its scope are refused until then; \`${deps.config.slack.command} unfreeze ${escapeMrkdwn(name)}\` lifts it.`,
    ),
  );
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
  await reply(section(`:sunny: Change freeze *${escapeMrkdwn(lifted.name)}* lifted.`));
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

/** `vendor.target` as typed, checked against the config. */
function targetOf(deps: OpsCommandDeps, text: string): { vendor: string; target: string } {
  const [vendorName = '', target = ''] = text.split('.');
  const vendor = findVendor(vendorName);
  if (!vendor)
    throw new InputError(
      `no vendor "${excerpt(vendorName)}" (vendors: ${VENDORS.map((v) => v.name).join(', ')})`,
    );
  return { vendor: vendor.name, target: deps.clients.resolveTarget(vendor.name, target) };
}

/** Whether `check` holds for some action of the vendor that changes something. */
async function onAnyAction(vendor: string, check: (actionId: string) => Promise<boolean>): Promise<boolean> {
  for (const { action } of allActions().filter((a) => a.vendor.name === vendor && a.action.mode !== 'read'))
    if (await check(action.id)) return true;
  return false;
}

async function lock(
  deps: OpsCommandDeps,
  command: QueuedCommand,
  args: CalendarArgs['lock'],
  reply: Reply,
): Promise<void> {
  const user = command.userId;
  const where = targetOf(deps, args.target);
  const place = { ...where, resource: args.resource };
  const mayAsk = await onAnyAction(
    where.vendor,
    async (id) => (await deps.policy.mayRequestHere(user, command.channelId, id, where.target)).ok,
  );
  if (!mayAsk)
    throw new InputError(
      `you may not lock ${where.vendor}/${where.target}: you may request none of its actions here.`,
    );
  const isApprover = () =>
    onAnyAction(where.vendor, (id) => deps.policy.mayApprove(id, user, { target: where.target }));
  if (args.takeOver && !(await isApprover()))
    throw new InputError(
      `only an approver of ${where.vendor}/${where.target} may take over someone else’s lock.`,
    );
  const max = deps.config.policy.locks.maxDuration;
  const ms = args.for === undefined ? Math.min(DEFAULT_LOCK_MS, max) : parseDurationText(args.for, '--for');
  if (ms > max)
    throw new InputError(
      `a lock may be held for ${shortDuration(max)} at most (policy.locks.maxDuration); lock it again later to keep it`,
    );
  const now = command.receivedAt;
  const result = await deps.calendar.locks.take(
    place,
    { user, reason: args.reason, ms, takeOver: args.takeOver },
    now,
  );
  if (result.kind === 'busy')
    throw new InputError(
      `request \`${result.requestId}\` is running on ${lockedThing(place)}: lock it once it has ended.`,
    );
  if (result.kind === 'held') {
    const hint = (await isApprover())
      ? 'As an approver of the target, you may take it over: add `--take-over`.'
      : `Ask them, or an approver of ${where.vendor}/${where.target}, to release it.`;
    throw new InputError(`${lockMrkdwn(result.info, now)}. ${hint}`);
  }
  await deps.calendar.armWarning(result.info, now);
  const previous = result.previous;
  await deps.store.audit({
    kind: previous ? 'lock-takeover' : 'lock',
    actor: user,
    text: `${previous ? `took over the lock of user ${previous.user} on` : 'locked'} ${lockedThing(place)} until ${plainInstant(result.info.until)}: ${args.reason}`,
  });
  deps.log.info(
    { user, lock: lockedThing(place), until: result.info.until, takeover: Boolean(previous) },
    'sticky lock taken',
  );
  if (previous)
    await tellHolder(
      deps,
      previous.user,
      `:lock: Your lock on ${escapeMrkdwn(lockedThing(place))} (“${escapeMrkdwn(previous.reason)}”) was taken over by <@${user}> until ${slackDate(result.info.until)}: “${escapeMrkdwn(args.reason)}”.`,
    );
  const release = `${deps.config.slack.command} unlock ${args.target}${args.resource ? ` ${args.resource}` : ''}`;
  await reply(
    section(
      `:lock: Locked ${escapeMrkdwn(lockedThing(place))} until ${slackDate(result.info.until)}${previous ? ` (taken over from <@${previous.user}>)` : ''}. Others’ actions on it are refused until then; yours pass. \`${escapeMrkdwn(release)}\` releases it.`,
    ),
  );
}

/** How long `/ops lock` holds when `--for` is not given (at most `policy.locks.maxDuration`). */
const DEFAULT_LOCK_MS = 3_600_000;

async function unlock(
  deps: OpsCommandDeps,
  command: QueuedCommand,
  args: CalendarArgs['unlock'],
  reply: Reply,
): Promise<void> {
  const user = command.userId;
  const where = targetOf(deps, args.target);
  const place = { ...where, resource: args.resource };
  const key = deps.calendar.locks.keyOf(place);
  const held = await deps.calendar.locks.info(key);
  const force =
    held !== undefined &&
    held.user !== user &&
    (await onAnyAction(where.vendor, (id) => deps.policy.mayApprove(id, user, { target: where.target })));
  const result = await deps.calendar.locks.release(place, user, force);
  if (result.kind === 'none') throw new InputError(`${escapeMrkdwn(lockedThing(place))} is not locked.`);
  if (result.kind === 'held')
    throw new InputError(
      `${held ? lockMrkdwn(held, command.receivedAt) : escapeMrkdwn(lockedThing(place))}. Only its holder or an approver of ${where.vendor}/${where.target} may unlock it.`,
    );
  await deps.store.audit({
    kind: 'unlock',
    actor: user,
    text: `unlocked ${lockedThing(place)}${result.info.user === user ? '' : ` (held by user ${result.info.user})`}`,
  });
  if (result.info.user !== user)
    await tellHolder(
      deps,
      result.info.user,
      `:unlock: Your lock on ${escapeMrkdwn(lockedThing(place))} (“${escapeMrkdwn(result.info.reason)}”) was released by <@${user}>.`,
    );
  await reply(section(`:unlock: Unlocked ${escapeMrkdwn(lockedThing(place))}.`));
}

/**
 * Tells a lock's holder, in a direct message, that an approver took their lock over or released
 * it: a lock is never removed silently. Once: a command job retried after a crash finds the lock
 * already moved and has no one to tell. A DM Slack refuses is logged; the lock has moved anyway.
 */
async function tellHolder(deps: OpsCommandDeps, holder: string, text: string): Promise<void> {
  try {
    await deps.writer.call('chat.postMessage', { channel: holder, text });
  } catch (error) {
    deps.log.warn({ user: holder, err: error }, 'could not tell a sticky lock holder that their lock moved');
  }
}

async function listLocks(deps: OpsCommandDeps, command: QueuedCommand, reply: Reply): Promise<void> {
  const now = command.receivedAt;
  const held = await deps.calendar.locks.held(now);
  await reply(
    section(
      held.length === 0
        ? 'No sticky lock is held.'
        : ['*Sticky locks*', ...held.map((info) => `• ${lockMrkdwn(info, now)}`)].join('\n'),
    ),
  );
}
