import { feasible } from './quorum.js';
import type { AudienceConfig, PolicyConfig, PolicySettings } from './schema.js';

/**
 * What the schema alone cannot see in a `policy` section: references to roles, actions and targets
 * that do not exist, and approval rules that can never be met. Each problem names its key and
 * what is wrong, e.g. `policy.actions.X.approvals.0.role: unknown role "secuirty" (roles: sre,
 * security)`.
 */

export interface KnownNames {
  /** Every action opsbot knows, with its vendor. */
  actions: ReadonlyArray<{ id: string; vendor: string }>;
  /** Configured target names by vendor. */
  targets: ReadonlyMap<string, readonly string[]>;
}

export function policyProblems(policy: PolicyConfig, known: KnownNames): string[] {
  const problems: string[] = [];
  const roles = new RolesCheck(policy, problems);
  const actionIds = known.actions.map((action) => action.id);

  settingsProblems(policy.defaults, 'policy.defaults', roles, problems);
  for (const [id, own] of Object.entries(policy.actions)) {
    const key = `policy.actions.${id}`;
    const vendor = known.actions.find((action) => action.id === id)?.vendor;
    if (vendor === undefined) {
      problems.push(`${key}: unknown action (known: ${actionIds.join(', ')})`);
      continue;
    }
    settingsProblems(own, key, roles, problems);
    const configured = known.targets.get(vendor) ?? [];
    for (const [target, settings] of Object.entries(own.targets)) {
      if (!configured.includes(target)) {
        problems.push(
          `${key}.targets.${target}: unknown ${vendor} target (${configured.length > 0 ? `configured: ${configured.join(', ')}` : `no ${vendor} targets are configured`})`,
        );
        continue;
      }
      settingsProblems(settings, `${key}.targets.${target}`, roles, problems);
    }
  }
  roles.audience(policy.auditors, 'policy.auditors');
  if (!Array.isArray(policy.channels)) {
    for (const [channel, binding] of Object.entries(policy.channels)) {
      const key = `policy.channels.${channel}`;
      binding.actions.forEach((pattern, i) => {
        const problem = patternProblem(pattern, actionIds, known, 'action');
        if (problem) problems.push(`${key}.actions.${i}: ${problem}`);
      });
      const targetIds = [...known.targets].flatMap(([vendor, names]) => names.map((n) => `${vendor}.${n}`));
      binding.targets.forEach((pattern, i) => {
        const problem = patternProblem(pattern, targetIds, known, 'target');
        if (problem) problems.push(`${key}.targets.${i}: ${problem}`);
      });
    }
  }
  return problems;
}

function settingsProblems(
  settings: PolicySettings,
  key: string,
  roles: RolesCheck,
  problems: string[],
): void {
  if (settings.approvals && settings.approvers)
    problems.push(`${key}: set approvers (one approval) or approvals (rules), not both`);
  if (settings.requesterMayApprove && settings.allowSelfApproval !== undefined)
    problems.push(`${key}: set requesterMayApprove or allowSelfApproval (its older spelling), not both`);
  roles.audience(settings.requesters, `${key}.requesters`);
  roles.audience(settings.approvers, `${key}.approvers`);
  if (settings.reminders && settings.reminders.escalateTo !== undefined)
    escalationProblems(settings.reminders.escalateTo, `${key}.reminders.escalateTo`, roles, problems);
  if (!settings.approvals) return;
  let allRulesSound = true;
  const seen = new Set<string>();
  settings.approvals.forEach(({ role: name, count }, i) => {
    const at = `${key}.approvals.${i}`;
    const role = roles.find(name, `${at}.role`);
    if (!role) {
      allRulesSound = false;
      return;
    }
    if (seen.has(name)) problems.push(`${at}.role: role "${name}" has two rules; write one with count: 2`);
    seen.add(name);
    const anyone = role.users.includes('*');
    if (role.users.length === 0 && role.groups.length === 0) {
      allRulesSound = false;
      problems.push(`${at}.role: role "${name}" has no users and no groups, so this rule can never be met`);
    } else if (!anyone && role.groups.length === 0 && role.users.length < count) {
      allRulesSound = false;
      problems.push(
        `${at}.count: ${count} approvals from @${name} need ${count} different people, but the role lists ${role.users.length} user${role.users.length === 1 ? '' : 's'} and no groups`,
      );
    }
  });
  if (!allRulesSound || settings.approvals.length < 2) return;
  // Rules over listed users only can be checked now; group members are only known at run time.
  const members = settings.approvals.map(({ role: name }) => {
    const role = roles.find(name)!;
    return role.groups.length > 0 || role.users.includes('*') ? ('*' as const) : new Set(role.users);
  });
  const rules = settings.approvals.map(({ role, count }) => ({ label: `@${role}`, count }));
  const verdict = feasible(rules, members, undefined, true);
  if (!verdict.ok) problems.push(`${key}.approvals: can never be met: ${verdict.reason}`);
}

/** An escalation must name someone to mention: unknown roles, or only empty ones, are refused. */
function escalationProblems(
  escalateTo: AudienceConfig,
  key: string,
  roles: RolesCheck,
  problems: string[],
): void {
  roles.audience(escalateTo, key);
  const found = Array.isArray(escalateTo)
    ? escalateTo.flatMap((name) => roles.find(name) ?? [])
    : [escalateTo];
  if (found.length > 0 && found.every((role) => role.users.length === 0 && role.groups.length === 0))
    problems.push(`${key}: names no users and no groups, so the escalation would mention nobody`);
}

/** Looks role names up, reporting each unknown one once per key. */
class RolesCheck {
  readonly #names: string;
  constructor(
    private readonly policy: PolicyConfig,
    private readonly problems: string[],
  ) {
    const names = Object.keys(policy.roles);
    this.#names =
      names.length > 0 ? `roles: ${names.join(', ')}` : 'no roles are declared under policy.roles';
  }

  find(name: string, key?: string): PolicyConfig['roles'][string] | undefined {
    const role = this.policy.roles[name];
    if (!role && key) this.problems.push(`${key}: unknown role "${name}" (${this.#names})`);
    return role;
  }

  audience(audience: AudienceConfig | undefined, key: string): void {
    if (!Array.isArray(audience)) return;
    for (const [i, name] of audience.entries()) this.find(name, `${key}.${i}`);
  }
}

/** Why a binding pattern names nothing opsbot knows, or undefined when it is fine. */
function patternProblem(
  pattern: string,
  ids: readonly string[],
  known: KnownNames,
  what: 'action' | 'target',
): string | undefined {
  if (pattern === '*') return undefined;
  const vendors = [...new Set(known.actions.map((action) => action.vendor))];
  if (pattern.endsWith('.*')) {
    const vendor = pattern.slice(0, -2);
    return vendors.includes(vendor)
      ? undefined
      : `unknown vendor "${vendor}" in "${pattern}" (vendors: ${vendors.join(', ')})`;
  }
  if (ids.includes(pattern)) return undefined;
  if (what === 'action') return `unknown action "${pattern}" (known: ${ids.join(', ')})`;
  if (!pattern.includes('.')) return `"${pattern}" must be "*", vendor.* or vendor.target (e.g. arcgis.prod)`;
  return `unknown target "${pattern}" (configured: ${ids.length > 0 ? ids.join(', ') : 'none'})`;
}
