import { bindsAction, bindsTarget } from './bindings.js';
import {
  type Audience,
  type Binding,
  type EffectivePolicy,
  isMember,
  type Permission,
  type Person,
  roleLabel,
  rolesOf,
} from './model.js';

/**
 * Why a person may or may not request and approve each action here: the answer to "why am I not
 * allowed?" (`/ops whoami`), and the reason a refused request is given. Pure: the caller has
 * already looked up the person's user groups (`Person.groups`) and resolved every policy.
 */

export interface AccessQuestion {
  person: Person;
  binding: Binding | undefined;
  /** Every role declared under `policy.roles`, to name the person's own. */
  roles: Audience;
  actions: ReadonlyArray<{
    actionId: string;
    vendor: string;
    needsApproval: boolean;
    /** The action's policy on each configured target of its vendor. */
    targets: ReadonlyArray<EffectivePolicy & { target: string }>;
  }>;
}

export interface AccessExplanation {
  binding: Binding | undefined;
  /** Labels of the declared roles the person is in. */
  roles: string[];
  actions: ActionAccess[];
}

export interface ActionAccess {
  actionId: string;
  vendor: string;
  needsApproval: boolean;
  /** The channel's binding includes the action (on some target). */
  bound: boolean;
  targets: TargetAccess[];
}

export interface TargetAccess {
  target: string;
  /** The channel's binding includes the action on this target: requests for it can be here. */
  bound: boolean;
  /** May request it here; when allowed, `via` names the requester roles the person is in. */
  request: Permission & { via: string[] };
  approve: ApproveAccess;
}

export interface ApproveAccess {
  /** The person fills a slot of at least one rule, the action is on and bound to this channel. */
  may: boolean;
  rules: Array<{ label: string; count: number; member: boolean }>;
  /** The requester's own approval counts (requesterMayApprove, highRisk). */
  ownRequests: boolean;
  highRisk: boolean;
}

export function explainAccess(question: AccessQuestion): AccessExplanation {
  const { person, binding } = question;
  return {
    binding,
    roles: rolesOf(question.roles, person).map(roleLabel),
    actions: question.actions.map((action) => {
      const actionBound = binding !== undefined && bindsAction(binding, action.actionId);
      return {
        actionId: action.actionId,
        vendor: action.vendor,
        needsApproval: action.needsApproval,
        bound: actionBound,
        targets: action.targets.map((policy) => {
          const bound = actionBound && bindsTarget(binding!, action.vendor, policy.target);
          return {
            target: policy.target,
            bound,
            request: requestAccess(person, binding, action.vendor, policy),
            approve: approveAccess(person, policy, bound),
          };
        }),
      };
    }),
  };
}

/** Whether the person may ask for the action on this target in a channel with this binding. */
export function requestAccess(
  person: Person,
  binding: Binding | undefined,
  vendor: string,
  policy: EffectivePolicy & { target: string },
): Permission & { via: string[] } {
  const refuse = (reason: string) => ({ ok: false as const, reason, via: [] });
  if (!binding) return refuse('opsbot is not open in this channel (policy.channels)');
  if (!bindsAction(binding, policy.actionId))
    return refuse(`this channel's binding (${binding.source}) does not include ${policy.actionId}`);
  if (!bindsTarget(binding, vendor, policy.target))
    return refuse(
      `this channel's binding (${binding.source}) does not include target ${vendor}.${policy.target}`,
    );
  if (!policy.enabled) return refuse(`${policy.actionId} is turned off on ${policy.target} (enabled: false)`);
  const via = rolesOf(policy.requesters, person);
  if (via.length === 0) return refuse(notIn(policy.requesters, 'requester'));
  return { ok: true, via: via.map(roleLabel) };
}

function approveAccess(person: Person, policy: EffectivePolicy, bound: boolean): ApproveAccess {
  const rules = policy.approvals.map((rule) => ({
    label: rule.label,
    count: rule.count,
    member: rule.audience.some((role) => isMember(role, person)),
  }));
  return {
    may: bound && policy.enabled && rules.some((rule) => rule.member),
    rules,
    ownRequests: policy.requesterCounts,
    highRisk: policy.highRisk,
  };
}

/** Why someone is not in an audience: "you are in none of its requester roles (@sre, @oncall)". */
export function notIn(audience: Audience, noun: string): string {
  if (audience.every((role) => !role.declared && role.users.length === 0 && role.groups.length === 0))
    return `no ${noun}s are configured for it`;
  if (audience.every((role) => !role.declared)) return `you are not among its ${noun}s`;
  return `you are in none of its ${noun} roles (${audience.map(roleLabel).join(', ')})`;
}
