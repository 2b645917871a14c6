import { findActionById } from '../vendors/registry.js';
import {
  type ApprovalRule,
  type Audience,
  audienceLabel,
  type EffectivePolicy,
  type ReminderPolicy,
  requesterCounts,
  roleLabel,
} from './model.js';
import {
  type AudienceConfig,
  DEFAULT_REMINDER_AFTER,
  DEFAULT_RETRY,
  type PolicyConfig,
  type PolicySettings,
  type RemindersConfig,
  type RequesterMayApprove,
  type RetrySettings,
} from './schema.js';

/**
 * One action on one target, every level applied: `policy.actions.<id>.targets.<target>` over
 * `policy.actions.<id>` over `policy.defaults` over the action's own declaration (and, for the
 * retry settings, over `vendors.retry`: `vendorRetry`). Pure; expects a config that
 * `policyProblems` found nothing wrong with (an unknown role or action throws).
 */
export function resolveActionPolicy(
  policy: PolicyConfig,
  actionId: string,
  target?: string | undefined,
  vendorRetry: RetrySettings = DEFAULT_RETRY,
): EffectivePolicy {
  const found = findActionById(actionId);
  if (!found) throw new Error(`unknown action ${actionId}`);
  const { action } = found;
  const levels = settingsLevels(policy, actionId, target);
  const first = <K extends keyof PolicySettings>(key: K): PolicySettings[K] | undefined =>
    levels.find((level) => level[key] !== undefined)?.[key];

  const highRisk = first('highRisk') ?? action.highRisk;
  const mayApprove = requesterMayApproveOf(levels);
  const pollInterval = first('pollInterval');
  const pollIntervalMs = pollInterval ?? action.timing.pollIntervalMs;
  const retry = <K extends keyof RetrySettings>(key: K): RetrySettings[K] =>
    levels.find((level) => level.retry?.[key] !== undefined)?.retry?.[key] ?? vendorRetry[key];
  const reason = first('reason');
  return {
    actionId,
    target,
    enabled: first('enabled') ?? true,
    requesters: resolveAudience(policy, first('requesters'), 'requesters'),
    approvals: approvalRulesOf(policy, levels),
    highRisk,
    requesterMayApprove: mayApprove,
    requesterCounts: requesterCounts(mayApprove, highRisk),
    reason: { required: reason?.required ?? false, pattern: reason?.pattern },
    whenBusy: first('whenBusy') ?? 'wait',
    cancelInFlight: first('cancelInFlight') ?? 'requester-or-approver',
    reminders: remindersOf(policy, first('reminders')),
    notifyRequester: first('notify')?.requester ?? false,
    timing: {
      pollIntervalMs,
      deadlineMs: first('deadline') ?? action.timing.deadlineMs,
      // A configured poll interval moves the first poll too (the action's own first delay goes
      // with its own interval), unless a first poll delay is configured at some level.
      firstPollDelayMs:
        first('firstPollDelay') ?? pollInterval ?? action.timing.firstPollDelayMs ?? pollIntervalMs,
    },
    retry: {
      attempts: retry('attempts'),
      initialDelayMs: retry('initialDelay'),
      maxDelayMs: retry('maxDelay'),
    },
  };
}

/** The config levels that apply, most specific first, each with the key it is written under. */
export function settingsLevels(
  policy: PolicyConfig,
  actionId: string,
  target: string | undefined,
): Array<PolicySettings & { key: string }> {
  const own = policy.actions[actionId];
  const levels: Array<PolicySettings & { key: string }> = [];
  const forTarget = target === undefined ? undefined : own?.targets[target];
  if (forTarget) levels.push({ ...forTarget, key: `policy.actions.${actionId}.targets.${target}` });
  if (own) levels.push({ ...own, key: `policy.actions.${actionId}` });
  levels.push({ ...policy.defaults, key: 'policy.defaults' });
  return levels;
}

/** Role names become the declared roles; inline `{ users, groups }` becomes one role named `name`. */
export function resolveAudience(
  policy: PolicyConfig,
  config: AudienceConfig | undefined,
  name: string,
): Audience {
  if (config === undefined) return [{ name, declared: false, users: [], groups: [] }];
  if (!Array.isArray(config)) return [{ name, declared: false, users: config.users, groups: config.groups }];
  return config.map((roleName) => {
    const role = policy.roles[roleName];
    if (!role) throw new Error(`unknown role ${roleName}`);
    return { name: roleName, declared: true, users: role.users, groups: role.groups };
  });
}

/** `approvals` or the flat `approvers`, whichever the most specific level sets. */
function approvalRulesOf(policy: PolicyConfig, levels: PolicySettings[]): ApprovalRule[] {
  const level = levels.find((l) => l.approvals !== undefined || l.approvers !== undefined);
  if (level?.approvals) {
    return level.approvals.map(({ role, count }) => {
      const audience = resolveAudience(policy, [role], role);
      return { label: roleLabel(audience[0]!), audience, count };
    });
  }
  const audience = resolveAudience(policy, level?.approvers, 'approvers');
  return [{ label: audienceLabel(audience), audience, count: 1 }];
}

/** The reminder settings of the most specific level that has them; a reminder half way by default. */
function remindersOf(policy: PolicyConfig, config: RemindersConfig | undefined): ReminderPolicy | undefined {
  if (config === false) return undefined;
  if (config === undefined) return { after: DEFAULT_REMINDER_AFTER };
  const { after, escalateAfter, escalateTo } = config;
  if (escalateAfter === undefined || escalateTo === undefined) return { after };
  return {
    after,
    escalation: { after: escalateAfter, to: resolveAudience(policy, escalateTo, 'escalateTo') },
  };
}

function requesterMayApproveOf(levels: PolicySettings[]): RequesterMayApprove {
  for (const level of levels) {
    if (level.requesterMayApprove) return level.requesterMayApprove;
    if (level.allowSelfApproval !== undefined)
      return level.allowSelfApproval ? 'allowed' : 'not-for-high-risk';
  }
  return 'not-for-high-risk';
}
