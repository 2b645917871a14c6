import type { AccessExplanation, ActionAccess, ApproveAccess, TargetAccess } from './explain.js';
import type { Binding } from './model.js';

/**
 * `/ops whoami` as text: one line per action (what the person may request and approve here), or,
 * for one action, one line per target with the reason behind each answer. Everything shown comes
 * from validated config (ids, role and target names) or Slack ids, so nothing needs escaping.
 */

export interface WhoamiOptions {
  command: string;
  user: string;
  /** One action, explained target by target. */
  actionId?: string | undefined;
  /** Only this target. */
  target?: string | undefined;
}

export function whoamiText(explanation: AccessExplanation, options: WhoamiOptions): string {
  const actions = explanation.actions.map((action) => ({
    ...action,
    targets: action.targets.filter((t) => options.target === undefined || t.target === options.target),
  }));
  const lines = [
    options.actionId
      ? `*What <@${options.user}> may do with \`${options.actionId}\` here*`
      : `*What <@${options.user}> may do here*`,
    explanation.roles.length > 0
      ? `Your roles: ${explanation.roles.join(', ')}.`
      : 'You are in no declared role.',
    bindingLine(explanation.binding),
  ];
  if (options.actionId) {
    for (const action of actions) lines.push(...actionDetail(action, options.target));
  } else {
    for (const action of actions) lines.push(actionSummary(action, options.command));
    lines.push(`\`${options.command} whoami <action>\` explains one action, target by target.`);
  }
  return lines.join('\n');
}

function bindingLine(binding: Binding | undefined): string {
  if (!binding) return 'opsbot is not open in this channel (policy.channels).';
  if (binding.actions.includes('*') && binding.targets.includes('*'))
    return `This channel: every action on every target (${binding.source}).`;
  return `This channel (${binding.source}): actions ${binding.actions.join(', ')} · targets ${binding.targets.join(', ')}.`;
}

function actionSummary(action: ActionAccess, command: string): string {
  const head = `• \`${action.actionId}\`: `;
  if (!action.bound) return `${head}not in this channel's binding.`;
  if (action.targets.length === 0)
    return `${head}no ${action.vendor} targets (configured, or matching --target).`;
  const requestable = action.targets.filter((t) => t.request.ok);
  const request =
    requestable.length > 0
      ? `request on ${names(requestable)}${asRoles(requestable.flatMap((t) => t.request.via))}`
      : `request: no, ${sameReason(action.targets) ?? `see \`${command} whoami ${action.actionId}\``}`;
  if (!action.needsApproval) return `${head}${request} · no approval needed.`;
  const approvable = action.targets.filter((t) => t.approve.may);
  const approve =
    approvable.length > 0
      ? `approve on ${names(approvable)}${asRoles(approvable.flatMap((t) => memberOf(t.approve)))}`
      : 'approve: no';
  return `${head}${request} · ${approve}.`;
}

function actionDetail(action: ActionAccess, target: string | undefined): string[] {
  const lines = [action.needsApproval ? 'It needs approval.' : 'It needs no approval.'];
  if (action.targets.length === 0)
    lines.push(
      target
        ? `No ${action.vendor} target is named ${target}.`
        : `No ${action.vendor} targets are configured.`,
    );
  for (const access of action.targets) {
    const request = access.request.ok
      ? `you may request it${asRoles(access.request.via)}.`
      : `you may not request it here: ${access.request.reason}.`;
    // Requests for a target outside the binding cannot be here, so neither can approving them.
    const approval = action.needsApproval && access.bound ? ` ${approvalDetail(access.approve)}` : '';
    lines.push(`• \`${access.target}\`: ${request}${approval}`);
  }
  return lines;
}

function approvalDetail(approve: ApproveAccess): string {
  const rules = approve.rules.map((rule) => (rule.count > 1 ? `${rule.label} ×${rule.count}` : rule.label));
  const needs = `Approval: ${rules.join(' and ')}${rules.length > 1 ? ', one person counting toward one rule' : ''}`;
  const own = approve.ownRequests
    ? ''
    : ` Four eyes: your approval of your own request does not count${approve.highRisk ? ' (high-risk)' : ''}.`;
  if (!approve.may) {
    const mine = memberOf(approve);
    return mine.length > 0
      ? `${needs}; it is turned off, so nobody approves it.`
      : `${needs}; you are ${rules.length > 1 ? 'in none of these' : 'not in it'}, so you may not approve it.`;
  }
  return `${needs}; you may approve it, counting toward ${memberOf(approve).join(' or ')}.${own}`;
}

/** ` (as @sre, @oncall)`; inline lists (`requesters`, `approvers`) go without saying. */
function asRoles(labels: string[]): string {
  const declared = unique(labels.filter((label) => label.startsWith('@')));
  return declared.length > 0 ? ` (as ${declared.join(', ')})` : '';
}

function memberOf(approve: ApproveAccess): string[] {
  return approve.rules.filter((rule) => rule.member).map((rule) => rule.label);
}

/** The reason every target gives, when they all give the same one. */
function sameReason(targets: TargetAccess[]): string | undefined {
  const reasons = unique(targets.map((t) => (t.request.ok ? '' : t.request.reason)));
  return reasons.length === 1 && reasons[0] ? reasons[0] : undefined;
}

function names(targets: TargetAccess[]): string {
  return targets.map((t) => t.target).join(', ');
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
