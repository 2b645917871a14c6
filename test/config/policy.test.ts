import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { problemsOf } from './problems.js';

/**
 * The `policy` section: what loads, and every mistake refused with its key and the problem. The
 * base document has arcgis targets `prod` and `staging`, an ece target `prod`, and roles @sre
 * (two users), @security (one user and a group) and @dba (one user).
 */

const ENV = { T: 'xoxb-1', S: 'signing-secret-1', P: 'password-1' };

function documentWith(policy: Record<string, unknown>) {
  const arcgis = { url: 'https://gis.example.com/arcgis', username: 'admin', password: { env: 'P' } };
  return {
    slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
    targets: {
      arcgis: { prod: arcgis, staging: arcgis },
      ece: { prod: { url: 'https://ece.example.com:12443', apiKey: { env: 'P' } } },
    },
    policy: {
      channels: ['C0OPS1'],
      roles: {
        sre: { users: ['U0SRE1', 'U0SRE2'] },
        security: { users: ['U0SEC1'], groups: ['S0SECURITY'] },
        dba: { users: ['U0DBA1'] },
      },
      ...policy,
    },
  };
}

const load = (policy: Record<string, unknown>) => loadConfig({ env: ENV, document: documentWith(policy) });
const refusal = (policy: Record<string, unknown>) => problemsOf(() => load(policy));

describe('policy configuration', () => {
  it('keeps the flat configuration as the simple case', () => {
    const config = load({
      defaults: { requesters: { users: ['U0REQ1'] }, approvers: { groups: ['S0APPROVE'] } },
      actions: { 'workspace.server.reinstall': { allowSelfApproval: true } },
    });
    expect(config.actions.get('arcgis.deployment.refresh')).toMatchObject({
      requesters: [{ name: 'requesters', declared: false, users: ['U0REQ1'], groups: [] }],
      approvals: [{ label: 'approvers', count: 1, audience: [{ groups: ['S0APPROVE'] }] }],
      requesterMayApprove: 'not-for-high-risk',
      requesterCounts: true,
    });
    expect(config.actions.get('workspace.server.reinstall')).toMatchObject({
      highRisk: true,
      requesterMayApprove: 'allowed',
      requesterCounts: true,
    });
    // Auditors are nobody unless configured: requests are private to their channel.
    expect(config.policy.auditors).toEqual({ users: [], groups: [] });
  });

  it('accepts roles wherever an audience goes, quorum rules, and channel bindings', () => {
    const config = load({
      channels: {
        C0OPS1: { actions: ['arcgis.*'], targets: ['arcgis.staging'] },
        '*': { actions: ['ece.resource.restart'] },
      },
      defaults: { requesters: ['sre'], approvers: ['sre', 'security'] },
      actions: {
        'ece.resource.restart': {
          approvals: [{ role: 'sre' }, { role: 'security', count: 2 }],
          requesterMayApprove: 'never',
        },
      },
      auditors: ['security'],
    });
    expect(config.actions.get('arcgis.groups.refresh')?.approvals).toMatchObject([
      { label: '@sre or @security', count: 1 },
    ]);
    expect(config.actions.get('ece.resource.restart')).toMatchObject({
      approvals: [
        { label: '@sre', count: 1 },
        { label: '@security', count: 2 },
      ],
      requesterCounts: false,
    });
  });

  it('leaves rules over roles with groups to be checked when a request is asked', () => {
    const config = load({
      roles: { sre: { groups: ['S0SRE'] }, security: { groups: ['S0SRE'] } },
      defaults: {
        approvals: [
          { role: 'sre', count: 5 },
          { role: 'security', count: 5 },
        ],
      },
    });
    expect(config.actions.get('ece.resource.restart')?.approvals).toHaveLength(2);
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    [
      'an unknown role in a rule',
      { actions: { 'ece.resource.restart': { approvals: [{ role: 'secuirty' }] } } },
      [
        'policy.actions.ece.resource.restart.approvals.0.role: unknown role "secuirty" (roles: sre, security, dba)',
      ],
    ],
    [
      'an unknown role in requesters, approvers and auditors',
      {
        defaults: { requesters: ['sre', 'ops'] },
        actions: { 'arcgis.groups.refresh': { targets: { prod: { approvers: ['gis'] } } } },
        auditors: ['audit'],
      },
      [
        'policy.defaults.requesters.1: unknown role "ops" (roles: sre, security, dba)',
        'policy.actions.arcgis.groups.refresh.targets.prod.approvers.0: unknown role "gis" (roles: sre, security, dba)',
        'policy.auditors.0: unknown role "audit" (roles: sre, security, dba)',
      ],
    ],
    [
      'a rule on a role with no users and no groups',
      { roles: { sre: { users: ['U0SRE1'] }, nobody: {} }, defaults: { approvals: [{ role: 'nobody' }] } },
      [
        'policy.defaults.approvals.0.role: role "nobody" has no users and no groups, so this rule can never be met',
      ],
    ],
    [
      'a count above the listed users of a role without groups',
      { actions: { 'ece.resource.restart': { approvals: [{ role: 'sre', count: 3 }] } } },
      [
        'policy.actions.ece.resource.restart.approvals.0.count: 3 approvals from @sre need 3 different people, but the role lists 2 users and no groups',
      ],
    ],
    [
      'rules that together need more people than their roles list',
      {
        roles: { sre: { users: ['U0DAVE1'] }, security: { users: ['U0DAVE1'] } },
        defaults: { approvals: [{ role: 'sre' }, { role: 'security' }] },
      },
      [
        'policy.defaults.approvals: can never be met: @sre and @security need 2 different people, but have only 1 between them',
      ],
    ],
    [
      'the same role in two rules',
      { defaults: { approvals: [{ role: 'sre' }, { role: 'sre' }] } },
      ['policy.defaults.approvals.1.role: role "sre" has two rules; write one with count: 2'],
    ],
    [
      'a count below one',
      { defaults: { approvals: [{ role: 'sre', count: 0 }] } },
      ['policy.defaults.approvals.0.count: must be at least 1'],
    ],
    [
      'a requesterMayApprove typo',
      { actions: { 'ece.resource.restart': { requesterMayApprove: 'nevr' } } },
      [
        'policy.actions.ece.resource.restart.requesterMayApprove: must be never, not-for-high-risk, allowed (got "nevr")',
      ],
    ],
    [
      'approvers and approvals together',
      { defaults: { approvers: ['sre'], approvals: [{ role: 'security' }] } },
      ['policy.defaults: set approvers (one approval) or approvals (rules), not both'],
    ],
    [
      'requesterMayApprove and its older spelling together',
      { defaults: { requesterMayApprove: 'never', allowSelfApproval: true } },
      ['policy.defaults: set requesterMayApprove or allowSelfApproval (its older spelling), not both'],
    ],
    [
      'per-target policy for a target the vendor does not have',
      { actions: { 'arcgis.deployment.refresh': { targets: { dev: { highRisk: true } } } } },
      [
        'policy.actions.arcgis.deployment.refresh.targets.dev: unknown arcgis target (configured: prod, staging)',
      ],
    ],
    [
      'per-target policy for a vendor with no targets',
      { actions: { 'cckm.dsm.refresh': { targets: { prod: { highRisk: true } } } } },
      ['policy.actions.cckm.dsm.refresh.targets.prod: unknown cckm target (no cckm targets are configured)'],
    ],
    [
      'a binding to an unknown action, vendor or target',
      {
        channels: {
          C0OPS1: {
            actions: ['ece.resource.reboot', 'nagios.*'],
            targets: ['arcgis.dev', 'prod', 'ece.*'],
          },
        },
      },
      [
        expect.stringMatching(
          /^policy\.channels\.C0OPS1\.actions\.0: unknown action "ece\.resource\.reboot" \(known: arcgis\.deployment\.refresh, /,
        ),
        'policy.channels.C0OPS1.actions.1: unknown vendor "nagios" in "nagios.*" (vendors: arcgis, ece, workspace, cckm)',
        'policy.channels.C0OPS1.targets.0: unknown target "arcgis.dev" (configured: arcgis.prod, arcgis.staging, ece.prod)',
        'policy.channels.C0OPS1.targets.1: "prod" must be "*", vendor.* or vendor.target (e.g. arcgis.prod)',
      ] as string[],
    ],
    [
      'a binding key that is not a channel id',
      { channels: { general: { actions: ['*'] } } },
      [
        expect.stringMatching(
          /^policy\.channels\.general: must be a Slack channel id \(C…, G… or D…\) or "\*"/,
        ),
      ] as string[],
    ],
    [
      'channels that are neither a list nor a map',
      { channels: 'C0OPS1' },
      [
        'policy.channels: must be a list of channel ids (or ["*"]), or a map of channel id (or "*") to { actions, targets }',
      ],
    ],
    [
      'an audience that is neither a list of roles nor { users, groups }',
      { defaults: { requesters: 'sre' } },
      ['policy.defaults.requesters: must be { users: [...], groups: [...] } or a list of role names'],
    ],
    [
      'a bad user id inside an inline audience',
      { defaults: { approvers: { users: ['bob'] } } },
      ['policy.defaults.approvers.users.0: must be a Slack user id ([UW]…)'],
    ],
    [
      'a role name that is not one',
      { roles: { 'Site Reliability': { users: ['U0SRE1'] } } },
      ['policy.roles.Site Reliability: role names are lowercase letters, digits, _ and - (e.g. sre)'],
    ],
    [
      'a reason pattern that is not a regular expression',
      { defaults: { reason: { required: true, pattern: 'OPS-(' } } },
      ['policy.defaults.reason.pattern: is not a valid regular expression'],
    ],
  ])('refuses %s, naming the key and the problem', (_name, policy, expected) => {
    const problems = refusal(policy);
    expect(problems).toEqual(expected);
  });
});
