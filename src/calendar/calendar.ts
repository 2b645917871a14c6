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
import { findActionById } from '../vendors/registry.js';
import { FreezeCalendar } from './freeze-calendar.js';
import { freezeMrkdwn, freezePlain, freezesInEffectLines, overrideHint } from './freeze-text.js';
import type { Freeze } from './freezes.js';
import { lockMrkdwn, lockPlain } from './lock-text.js';
import { type LockInfo, StickyLocks } from './locks.js';
import type { Place } from './scope.js';

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
    const covering = await this.freezes.covering(place, now, now);
    const where = `${place.actionId} on ${place.vendor}/${place.target}`;
    if (covering.length === 0) {
      if (ask.override)
        throw new InputError(
          `no change freeze covers ${where} now, so there is nothing to override: drop --override`,
        );
      return { overrides: undefined, quorum: plain };
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
    return { overrides: covering.map((freeze) => freeze.name), quorum };
  }

  /**
   * The approval-time check of a pending request: a freeze that started since it was asked (and
   * that it does not override) refuses the approval. Answers why, as plain text, or undefined.
   */
  async recheck(request: OpsRequest, now: number): Promise<string | undefined> {
    const locked = await this.lockRefusal(request, now);
    if (locked) return `${locked.plain}; approve it once it is unlocked`;
    const covering = await this.freezes.covering(placeOf(request), now, now);
    const blocking = covering.filter((freeze) => !request.overrides?.includes(freeze.name));
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

/** The timeline and audit entry of a break-glass override. */
export function breakGlassEvent(user: string, freezes: readonly string[], reason: string | undefined) {
  return {
    kind: 'break-glass',
    actor: user,
    text: `break-glass override of change freeze ${freezes.join(', ')}: ${reason ?? ''}`,
  };
}

/** What help and whoami add: the change freezes in effect now. */
export async function calendarNotes(calendar: Calendar, now = Date.now()): Promise<string[]> {
  return freezesInEffectLines(await calendar.freezes.inEffect(now, now));
}
