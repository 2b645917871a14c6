import type { WebClient } from '@slack/web-api';
import type { Config } from '../config/load.js';
import { bindingFor } from '../policy/bindings.js';
import { type AccessExplanation, explainAccess, requestAccess } from '../policy/explain.js';
import { GroupMembers } from '../policy/group-members.js';
import {
  type ApprovalRule,
  type Audience,
  anyone,
  type Binding,
  type EffectivePolicy,
  isMember,
  type Permission,
  type Person,
} from '../policy/model.js';
import { feasible } from '../policy/quorum.js';
import { resolveActionPolicy, resolveAudience } from '../policy/resolve.js';
import { maySeeRequest } from '../policy/visibility.js';
import { allActions, findActionById } from '../vendors/registry.js';
import type { OpsRequest } from './types.js';

/**
 * Who may do what, where, on which target: the policy model of `src/policy/` (pure) with the
 * person's Slack user groups looked up (`GroupMembers`: cached a minute, single-flight).
 *
 * API for the request lifecycle, stable:
 * - `effective(actionId, target)`: the `EffectivePolicy` of one action on one target (memoized).
 * - `mayRequestHere(user, channel, actionId, target?)`: allowed, or the reason in words. With a
 *   target it is exact (binding ∩ requester roles ∩ target); without one, allowed if some target is.
 * - `eligibleRules(effective, user)`: the indexes of the approval rules the user may fill, to store
 *   with their vote; `tally`/`evaluateVote` (src/policy/quorum.ts) then need no lookup.
 * - `feasible(effective, requester)`: whether the rules can ever be met without the requester
 *   (where four eyes apply); refuse the request when asked otherwise.
 * - `maySee(request, user, channel, voters)`: the `/ops status` rule (src/policy/visibility.ts).
 * - `explain(user, channel, actionId?)`: the data `/ops whoami` renders.
 * - `mayApprove(actionId, user, { target? })`: whether the user is in an approval rule of the
 *   action as configured (on every configured target when none is given): who may lock or unlock
 *   a target. A request's own approvers are those of its snapshot rules (RequestLifecycle).
 */
export class Policy {
  readonly #groups: GroupMembers;
  readonly #effective = new Map<string, EffectivePolicy>();
  readonly #auditors: Audience;
  readonly #roles: Audience;

  constructor(
    private readonly config: Pick<Config, 'policy' | 'actions' | 'targets' | 'vendors'>,
    slack: WebClient,
    cacheMs = 60_000,
  ) {
    this.#groups = new GroupMembers(slack, cacheMs);
    this.#auditors = resolveAudience(config.policy, config.policy.auditors, 'auditors');
    this.#roles = Object.keys(config.policy.roles).flatMap((name) =>
      resolveAudience(config.policy, [name], name),
    );
  }

  /** Whether /ops is open in this channel at all (it has a binding). */
  channelAllowed(channel: string): boolean {
    return this.binding(channel) !== undefined;
  }

  binding(channel: string): Binding | undefined {
    return bindingFor(this.config.policy.channels, channel);
  }

  /** One action on one target, every level of the config applied; undefined for an unknown action. */
  effective(actionId: string, target?: string | undefined): EffectivePolicy | undefined {
    if (!findActionById(actionId)) return undefined;
    const key = `${actionId}/${target ?? ''}`;
    let effective = this.#effective.get(key);
    if (!effective) {
      effective = resolveActionPolicy(this.config.policy, actionId, target, this.config.vendors.retry);
      this.#effective.set(key, effective);
    }
    return effective;
  }

  /** The configured targets of the action's vendor. */
  targetsOf(actionId: string): string[] {
    const vendor = findActionById(actionId)?.vendor.name;
    return vendor === undefined ? [] : [...(this.config.targets.get(vendor)?.keys() ?? [])];
  }

  async mayRequestHere(
    user: string,
    channel: string,
    actionId: string,
    target?: string | undefined,
  ): Promise<Permission> {
    const vendor = findActionById(actionId)?.vendor.name;
    if (vendor === undefined) return { ok: false, reason: `${actionId} is not an action opsbot knows` };
    const policies = this.onTargets(actionId, target === undefined ? this.targetsOf(actionId) : [target]);
    if (policies.length === 0) return { ok: false, reason: `no ${vendor} targets are configured` };
    const person = await this.person(
      user,
      policies.map((policy) => policy.requesters),
    );
    const binding = this.binding(channel);
    const refusals = policies.flatMap((policy) => {
      const answer = requestAccess(person, binding, vendor, policy);
      return answer.ok ? [] : [{ target: policy.target, reason: answer.reason }];
    });
    if (refusals.length < policies.length) return { ok: true };
    const sameForAll = new Set(refusals.map((refusal) => refusal.reason)).size === 1;
    return {
      ok: false,
      reason: sameForAll
        ? refusals[0]!.reason
        : refusals.map((refusal) => `on ${refusal.target}: ${refusal.reason}`).join('; '),
    };
  }

  /** Whether the user is in an approval rule: on `target`, or on every target when none is given. */
  async mayApprove(actionId: string, user: string, where: { target?: string } = {}): Promise<boolean> {
    const policies = this.everyTarget(actionId, where.target);
    if (policies.length === 0) return false;
    for (const policy of policies) {
      if (!policy.enabled || (await this.eligibleRules(policy, user)).length === 0) return false;
    }
    return true;
  }

  async isAuditor(user: string): Promise<boolean> {
    return this.isIn(this.#auditors, user);
  }

  /** The indexes of `effective.approvals` the user may fill (group lookups cached, single-flight). */
  async eligibleRules(effective: EffectivePolicy, user: string): Promise<number[]> {
    return this.eligibleFor(effective.approvals, user);
  }

  /**
   * The indexes of `rules` the user may fill: a request's approval rules as snapshotted when it
   * was opened (OpsRequest.quorum), or an effective policy's.
   */
  async eligibleFor(rules: readonly ApprovalRule[], user: string): Promise<number[]> {
    const person = await this.person(
      user,
      rules.map((rule) => rule.audience),
    );
    return rules.flatMap((rule, i) => (rule.audience.some((role) => isMember(role, person)) ? [i] : []));
  }

  /**
   * Whether the approval rules can ever be met for this requester, with everyone's current groups.
   * Users listed by id often suffice on their own: then no group is looked up.
   */
  async feasible(effective: EffectivePolicy, requester: string): Promise<Permission> {
    const check = (members: Array<ReadonlySet<string> | '*'>) =>
      feasible(effective.approvals, members, requester, effective.requesterCounts);
    const listed = check(effective.approvals.map((rule) => this.listedMembersOf(rule.audience)));
    if (
      listed.ok ||
      effective.approvals.every((rule) => rule.audience.every((role) => role.groups.length === 0))
    )
      return listed;
    return check(await Promise.all(effective.approvals.map((rule) => this.membersOf(rule.audience))));
  }

  /** Whether `user`, asking in `channel`, may see this request (`/ops status`). */
  async maySee(
    request: Pick<OpsRequest, 'channel' | 'requester' | 'actionId' | 'target' | 'quorum'>,
    user: string,
    channel: string,
    voters: readonly string[],
  ): Promise<boolean> {
    return maySeeRequest(
      { channel: request.channel, requester: request.requester, voters },
      { user, channel },
      {
        // Its approvers are those of its own rules (a break-glass override role included).
        mayApprove: async () => {
          const rules = request.quorum?.rules ?? this.effective(request.actionId, request.target)?.approvals;
          return rules !== undefined && (await this.eligibleFor(rules, user)).length > 0;
        },
        isAuditor: () => this.isAuditor(user),
      },
    );
  }

  /** What the user may request and approve in this channel, and why (`/ops whoami`). */
  async explain(user: string, channel: string, actionId?: string): Promise<AccessExplanation> {
    const actions = allActions()
      .filter(({ action }) => actionId === undefined || action.id === actionId)
      .map(({ vendor, action }) => ({
        actionId: action.id,
        vendor: vendor.name,
        needsApproval: action.mode !== 'read',
        targets: this.onTargets(action.id, this.targetsOf(action.id)),
      }));
    const audiences = [
      this.#roles,
      ...actions.flatMap((action) =>
        action.targets.flatMap((policy) => [
          policy.requesters,
          ...policy.approvals.map((rule) => rule.audience),
        ]),
      ),
    ];
    return explainAccess({
      person: await this.person(user, audiences),
      binding: this.binding(channel),
      roles: this.#roles,
      actions,
    });
  }

  private onTargets(actionId: string, targets: string[]): Array<EffectivePolicy & { target: string }> {
    return targets.map((target) => ({ ...this.effective(actionId, target)!, target }));
  }

  /** The policies a check without a target must hold on: every target, or the action's own. */
  private everyTarget(actionId: string, target: string | undefined): EffectivePolicy[] {
    if (!findActionById(actionId)) return [];
    const targets = target === undefined ? this.targetsOf(actionId) : [target];
    return targets.length === 0 ? [this.effective(actionId)!] : this.onTargets(actionId, targets);
  }

  private async isIn(audience: Audience, user: string): Promise<boolean> {
    const person = await this.person(user, [audience]);
    return audience.some((role) => isMember(role, person));
  }

  /**
   * The user with the groups of these audiences they are in. Only groups that could change an
   * answer are looked up: none for a role that lists the user (or anyone) by id.
   */
  private async person(user: string, audiences: Audience[]): Promise<Person> {
    const groups = new Set<string>();
    for (const role of audiences.flat()) {
      if (anyone(role) || role.users.includes(user)) continue;
      for (const group of role.groups) groups.add(group);
    }
    const found = await Promise.all(
      [...groups].map(async (group) => ((await this.#groups.of(group)).has(user) ? [group] : [])),
    );
    return { user, groups: new Set(found.flat()) };
  }

  private listedMembersOf(audience: Audience): ReadonlySet<string> | '*' {
    return audience.some(anyone) ? '*' : new Set(audience.flatMap((role) => role.users));
  }

  private async membersOf(audience: Audience): Promise<ReadonlySet<string> | '*'> {
    const members = this.listedMembersOf(audience);
    if (members === '*') return members;
    const all = new Set(members);
    for (const role of audience) {
      for (const group of role.groups) for (const user of await this.#groups.of(group)) all.add(user);
    }
    return all;
  }
}
