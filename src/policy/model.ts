import type { ActionTiming } from '../vendors/types.js';
import type { RequesterMayApprove } from './schema.js';

/**
 * The policy model as the rest of opsbot sees it: who (roles), where (channel bindings), and what
 * one action on one target requires (`EffectivePolicy`). Everything here is plain data, built
 * from the validated config by `resolve.ts` and `bindings.ts`.
 */

/**
 * A set of people: Slack users (`'*'` is anyone) and user groups. `declared` roles come from
 * `policy.roles` and are shown as `@name`; an inline `{ users, groups }` is named after its key
 * (`approvers`, `requesters`, `auditors`).
 */
export interface Role {
  name: string;
  declared: boolean;
  users: readonly string[];
  groups: readonly string[];
}

/** Anyone in any of these roles. */
export type Audience = readonly Role[];

/** `count` different people from `audience`, each counting toward this rule only. */
export interface ApprovalRule {
  /** How messages name it: `@sre`, `@sre or @ops`, `approvers`. */
  label: string;
  audience: Audience;
  count: number;
}

export interface ReasonPolicy {
  required: boolean;
  /** A regular expression the reason must match (e.g. `^OPS-\d+`). */
  pattern: string | undefined;
}

/** How a failed vendor call is tried again (`vendors.retry`, per action and per target). */
export interface RetryPolicy {
  /** Tries of a call that surely never reached the vendor, the first included. */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * When a waiting request is brought up again, as shares of its approval window: a reminder of the
 * approval rules still short at `after`, and optionally an escalation to `escalation.to` later.
 */
export interface ReminderPolicy {
  after: number;
  escalation?: { after: number; to: Audience } | undefined;
}

/** What one action on one target requires, every level of the config applied. */
export interface EffectivePolicy {
  actionId: string;
  /** The target it was resolved for; undefined for the action-level policy. */
  target: string | undefined;
  enabled: boolean;
  requesters: Audience;
  /** All must be met; never empty (no approvers configured is one rule nobody can meet). */
  approvals: readonly ApprovalRule[];
  highRisk: boolean;
  requesterMayApprove: RequesterMayApprove;
  /** Whether the requester's own approval counts here (from requesterMayApprove and highRisk). */
  requesterCounts: boolean;
  reason: ReasonPolicy;
  whenBusy: 'wait' | 'refuse';
  cancelInFlight: 'requester-or-approver' | 'approvers';
  /** Reminders while it waits; undefined: none. */
  reminders: ReminderPolicy | undefined;
  /** Whether the requester is told of the approval, rejection, expiry and end by DM. */
  notifyRequester: boolean;
  timing: ActionTiming;
  retry: RetryPolicy;
}

/** What may be asked in a channel; patterns are `'*'`, `vendor.*` or exact ids. */
export interface Binding {
  /** The config key it comes from, for explanations: `policy.channels.C0123` or `policy.channels`. */
  source: string;
  actions: readonly string[];
  /** As `vendor.target`. */
  targets: readonly string[];
}

/** A person as policy checks see them: their id and the user groups they are in (of those asked). */
export interface Person {
  user: string;
  groups: ReadonlySet<string>;
}

/** Allowed, or refused with the reason in words. */
export type Permission = { ok: true } | { ok: false; reason: string };

export function roleLabel(role: Role): string {
  return role.declared ? `@${role.name}` : role.name;
}

export function audienceLabel(audience: Audience): string {
  return audience.map(roleLabel).join(' or ');
}

export function anyone(role: Role): boolean {
  return role.users.includes('*');
}

export function isMember(role: Role, person: Person): boolean {
  return (
    anyone(role) || role.users.includes(person.user) || role.groups.some((group) => person.groups.has(group))
  );
}

/** The roles of an audience this person is in. */
export function rolesOf(audience: Audience, person: Person): Role[] {
  return audience.filter((role) => isMember(role, person));
}

/** Whether the requester's own approval counts, by policy and the request's risk. */
export function requesterCounts(mode: RequesterMayApprove, highRisk: boolean): boolean {
  return mode === 'allowed' || (mode === 'not-for-high-risk' && !highRisk);
}
