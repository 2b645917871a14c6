import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../config/load.js';
import { InputError } from '../errors.js';
import { LOCK_WARNING_JOB, type Queues } from '../jobs/queues.js';
import type { ApprovalRule, EffectivePolicy } from '../policy/model.js';
import { resolveAudience } from '../policy/resolve.js';
import type { Policy } from '../requests/policy.js';
import { type ResourceLocks, resourceOf } from '../requests/resource-lock.js';
import type { OpsRequest } from '../requests/types.js';
import { excerpt, slackDate } from '../slack/mrkdwn.js';
import { findActionById } from '../vendors/registry.js';
import { FreezeCalendar, type Runnable } from './freeze-calendar.js';
import { freezeMrkdwn, freezePlain, freezesInEffectLines, overrideHint } from './freeze-text.js';
import type { Freeze } from './freezes.js';
import { lockMrkdwn, lockPlain } from './lock-text.js';
import { type LockInfo, StickyLocks } from './locks.js';
import type { Place } from './scope.js';
import { parseInstant, plainInstant, shortDuration, TIME_EXAMPLES, TimeInputError } from './time.js';

/**
 * One read for /metrics: freezes set from Slack that have not ended, sticky locks not expired, and
 * scheduled requests waiting (an entry left by one whose job was lost stops counting a day on).
 * KEYS: freezes index, locks index, scheduled. ARGV: now, oldest scheduled time still counted.
 */
const COUNT_FIGURES = `
return {
  redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf'),
  redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[1], '+inf'),
  redis.call('ZCOUNT', KEYS[3], ARGV[2], '+inf')
}`;
const STALE_SCHEDULE_MS = 86_400_000;

/** The data of a lock's warning job (see Calendar.armWarning). */
export interface LockWarningData {
  key: string;
  until: number;
}

/**
 * The calendar as the rest of opsbot asks it: when may a request be asked, approved and run,
 * given the change freezes (and, with `--at`, the schedule). One instance per Redis connection;
 * it holds no state of its own beyond the config.
 */

export interface CalendarDeps {
  redis: Redis | Cluster;
  prefix: string;
  config: Pick<Config, 'policy' | 'targets'>;
  policy: Policy;
  /** Where sticky locks live: the resource locks' keys. */
  locks: ResourceLocks;
  /** The actions queue, for the delayed job that warns a lock's holder before it expires. */
  queues: Queues;
}

/** What the calendar adds to a request it lets through. */
export interface Admission {
  /** When it runs, if scheduled (`--at`); a freeze that holds may move the run later still. */
  runAt: number | undefined;
  /** The holding freezes its schedule falls in (it runs when they end). */
  heldBy: Freeze[];
  /** The freezes a break-glass override passes. */
  overrides: string[] | undefined;
  /** The quorum, with one rule per override role appended (the requester's own approval never counts then). */
  quorum: { rules: ApprovalRule[]; requesterCounts: boolean };
}

export class Calendar {
  readonly freezes: FreezeCalendar;
  readonly locks: StickyLocks;

  constructor(private readonly deps: CalendarDeps) {
    const { policy } = deps.config;
    this.locks = new StickyLocks(deps.redis, deps.prefix, deps.locks);
    this.freezes = new FreezeCalendar({
      redis: deps.redis,
      prefix: deps.prefix,
      windows: policy.freezes.windows,
      timeZone: policy.timeZone,
      overrideBy: policy.freezes.overrideBy,
      targetsOf: (vendor) => this.targetsOf(vendor),
    });
  }

  targetsOf(vendor: string): string[] {
    return [...(this.deps.config.targets.get(vendor)?.keys() ?? [])];
  }

  /** The zone times typed in a channel are read in. */
  zoneOf(channel: string): string {
    return this.deps.policy.binding(channel)?.timeZone ?? this.deps.config.policy.timeZone;
  }

  /** Whether the user is in one of these declared roles. */
  async inRoles(roles: readonly string[], user: string): Promise<boolean> {
    if (roles.length === 0) return false;
    const audience = resolveAudience(this.deps.config.policy, [...roles], roles.join(' or '));
    return (await this.deps.policy.eligibleFor([{ label: '', audience, count: 1 }], user)).length > 0;
  }

  /**
   * A new request, checked against others' sticky locks on its resource (refused, saying who holds
   * it, since when, why and until when) and the freezes at the time it would run (`now`): refused with the
   * freeze's name, reason and end; or, with `override` (and a reason), let through with one more
   * approval rule per override role, provided that quorum can be met without the requester.
   */
  async admit(
    place: Place,
    ask: {
      requester: string;
      args: unknown;
      /** `--at` as typed, read in `zone`. */
      at: string | undefined;
      zone: string;
      override: boolean;
      reason: string | undefined;
      policy: EffectivePolicy;
    },
    now: number,
  ): Promise<Admission> {
    const locked = await this.lockRefusal({ ...place, args: ask.args, requester: ask.requester }, now);
    if (locked)
      throw new InputError(`${locked.mrkdwn}. Nothing was requested: ask again once it is unlocked.`);
    const plain = { rules: [...ask.policy.approvals], requesterCounts: ask.policy.requesterCounts };
    const runAt = ask.at === undefined ? undefined : this.runAt(ask.at, ask.zone, now);
    const when = runAt ?? now;
    // A schedule that falls in freezes that all hold is let through: it runs when they end.
    const runnable = runAt === undefined ? undefined : await this.freezes.runnableAt(place, runAt, [], now);
    const heldBy = runnable?.ok ? runnable.heldBy : [];
    const covering = runnable?.ok ? [] : await this.freezes.covering(place, when, now);
    const where = `${place.actionId} on ${place.vendor}/${place.target}${runAt === undefined ? '' : ` at ${slackDate(runAt)}`}`;
    if (covering.length === 0) {
      if (ask.override)
        throw new InputError(
          `no change freeze covers ${where}, so there is nothing to override: drop --override`,
        );
      return { runAt, heldBy, overrides: undefined, quorum: plain };
    }
    if (!ask.override) {
      throw new InputError(
        `${where} is in a change freeze: ${covering.map(freezeMrkdwn).join('; ')}. ${overrideHint(covering)}`,
      );
    }
    if (covering.some((freeze) => freeze.overrideBy === undefined))
      throw new InputError(
        `${where} is in a change freeze that allows no break-glass override: ${covering.map(freezeMrkdwn).join('; ')}`,
      );
    if (!ask.reason) throw new InputError('a break-glass override needs a reason: add `--reason "…"`');
    const quorum = { rules: [...plain.rules, ...this.overrideRules(covering)], requesterCounts: false };
    const feasible = await this.deps.policy.feasible(
      { ...ask.policy, approvals: quorum.rules, requesterCounts: false },
      ask.requester,
    );
    if (!feasible.ok)
      throw new InputError(
        `a break-glass override of ${where} could never be approved: ${feasible.reason}. Nothing was requested.`,
      );
    return { runAt, heldBy: [], overrides: covering.map((freeze) => freeze.name), quorum };
  }

  /** `--at` as a moment: ahead of now, and at most `policy.schedule.horizon` ahead. */
  private runAt(text: string, zone: string, now: number): number {
    let at: number;
    try {
      at = parseInstant(text, zone, now);
    } catch (error) {
      if (!(error instanceof TimeInputError)) throw error;
      throw new InputError(`--at ${error.shown(excerpt)}`);
    }
    if (at <= now)
      throw new InputError(`--at ${excerpt(text)} has passed: give a time ahead (${TIME_EXAMPLES})`);
    const horizon = this.deps.config.policy.schedule.horizon;
    if (at > now + horizon)
      throw new InputError(
        `--at ${excerpt(text)} is more than ${shortDuration(horizon)} ahead (policy.schedule.horizon): ask closer to the time`,
      );
    return at;
  }

  /**
   * Where an approved request stands when its run job first wakes: runnable now; held by
   * freezes that hold (it sleeps until `at`); or refused by one that does not (it does not run).
   */
  async atStart(request: OpsRequest, now: number): Promise<Runnable> {
    return this.freezes.runnableAt(placeOf(request), now, request.overrides ?? [], now);
  }

  /** Approved requests waiting for their time (for /metrics): added at approval, removed at start. */
  private scheduledKey(): string {
    return `${this.deps.prefix}:scheduled`;
  }

  async scheduled(requestId: string, runAt: number): Promise<void> {
    await this.deps.redis.zadd(this.scheduledKey(), runAt, requestId);
  }

  async started(requestId: string): Promise<void> {
    await this.deps.redis.zrem(this.scheduledKey(), requestId);
  }

  /** The figures /metrics exports: freezes in effect, sticky locks held, scheduled actions waiting. */
  async figures(now: number): Promise<{ freezes: number; locks: number; scheduled: number }> {
    const [set, locks, scheduled] = (await this.deps.redis.eval(
      COUNT_FIGURES,
      3,
      this.freezes.store.indexKey(),
      this.locks.indexKey(),
      this.scheduledKey(),
      now,
      now - STALE_SCHEDULE_MS,
    )) as [number, number, number];
    return { freezes: this.freezes.declaredInEffect(now) + set, locks, scheduled };
  }

  /**
   * The approval-time check of a pending request: a freeze that started since it was asked (and
   * that it does not override) refuses the approval. Answers why, as plain text, or undefined.
   */
  async recheck(request: OpsRequest, now: number): Promise<string | undefined> {
    const locked = await this.lockRefusal(request, now);
    if (locked) return `${locked.plain}; approve it once it is unlocked`;
    const overrides = request.overrides ?? [];
    if (request.runAt !== undefined) {
      // A scheduled request is weighed at its time, where freezes that hold only move it later.
      const runnable = await this.freezes.runnableAt(placeOf(request), request.runAt, overrides, now);
      return runnable.ok
        ? undefined
        : `${freezePlain(runnable.freeze)} covers its scheduled time; ask again for another time, or with --override`;
    }
    const covering = await this.freezes.covering(placeOf(request), now, now);
    const blocking = covering.filter((freeze) => !overrides.includes(freeze.name));
    if (blocking.length === 0) return undefined;
    return `${blocking.map(freezePlain).join('; ')} started; approve it once it ends, or ask again with --override`;
  }

  /**
   * The sticky lock that keeps a request off its resource (someone else's, on the resource or its
   * whole target), as plain text; undefined if none does.
   */
  async lockRefusal(
    request: Pick<OpsRequest, 'vendor' | 'target' | 'actionId' | 'args' | 'requester'>,
    now: number,
  ) {
    const action = findActionById(request.actionId)?.action;
    if (!action || action.mode === 'read') return undefined;
    const info = await this.locks.blocking(
      { ...request, resource: resourceOf(action, request.args) },
      request.requester,
    );
    return info && { info, plain: lockPlain(info, now), mrkdwn: lockMrkdwn(info, now) };
  }

  /**
   * Arms the warning of a lock's holder, `policy.locks.warnBefore` ahead of its end: one delayed
   * job per lock and end (a fixed id), so it is sent once whatever the number of workers; an
   * extended or released lock's old warning finds its lock changed and says nothing.
   */
  async armWarning(info: LockInfo, now: number): Promise<void> {
    const key = this.locks.keyOf(info);
    const job: LockWarningData = { key, until: info.until };
    await this.deps.queues.actions.add(LOCK_WARNING_JOB, job, {
      jobId: `lockwarn-${createHash('sha1').update(key).digest('hex')}-${info.until}`,
      delay: Math.max(0, info.until - this.deps.config.policy.locks.warnBefore - now),
      removeOnComplete: true,
    });
  }

  /** One rule per distinct override role: an approval from someone in it, besides the rules of the action. */
  private overrideRules(freezes: readonly Freeze[]): ApprovalRule[] {
    const roles = [...new Set(freezes.map((freeze) => freeze.overrideBy!))];
    return roles.map((role) => ({
      label: `@${role} (break-glass)`,
      audience: resolveAudience(this.deps.config.policy, [role], role),
      count: 1,
    }));
  }
}

export function placeOf(request: Pick<OpsRequest, 'vendor' | 'target' | 'actionId'>): Place {
  return { vendor: request.vendor, target: request.target, actionId: request.actionId };
}

/** The timeline and audit entries of what the calendar let through: a schedule, a break-glass override. */
export function admissionEvents(user: string, admission: Admission, reason: string | undefined) {
  const events: Array<{ kind: string; actor: string; text: string }> = [];
  if (admission.runAt !== undefined) {
    const held = admission.heldBy.map(
      (freeze) => `; held by change freeze ${freeze.name} until ${plainInstant(freeze.end)}`,
    );
    events.push({
      kind: 'scheduled',
      actor: user,
      text: `scheduled for ${plainInstant(admission.runAt)}${held.join('')}`,
    });
  }
  if (admission.overrides)
    events.push({
      kind: 'break-glass',
      actor: user,
      text: `break-glass override of change freeze ${admission.overrides.join(', ')}: ${reason ?? ''}`,
    });
  return events;
}

/** What help and whoami add: the change freezes in effect now. */
export async function calendarNotes(calendar: Calendar, now = Date.now()): Promise<string[]> {
  return freezesInEffectLines(await calendar.freezes.inEffect(now, now));
}
