import { describe, expect, it } from 'vitest';
import { bindingFor } from '../../src/policy/bindings.js';
import { type AccessQuestion, explainAccess } from '../../src/policy/explain.js';
import type { Person } from '../../src/policy/model.js';
import { resolveActionPolicy, resolveAudience } from '../../src/policy/resolve.js';
import { type PolicyConfig, policySchema } from '../../src/policy/schema.js';
import { maySeeRequest } from '../../src/policy/visibility.js';
import { whoamiText } from '../../src/policy/whoami-view.js';

/**
 * Why someone may or may not request and approve, as data (`explainAccess`) and as `/ops whoami`
 * text. The ECE restart needs @sre and @security on prod, and is open to @sre on staging and prod;
 * channel C0STAGE1 is bound to ECE staging only; C0OPS1 to everything.
 */

const policy: PolicyConfig = policySchema.parse({
  roles: {
    sre: { users: ['U0BOB'], groups: ['S0SRE'] },
    security: { users: ['U0SUE'] },
  },
  channels: {
    C0OPS1: { actions: ['*'], targets: ['*'] },
    C0STAGE1: { actions: ['ece.*'], targets: ['ece.staging'] },
  },
  defaults: { requesters: ['sre'], approvers: ['sre'] },
  actions: {
    'ece.resource.restart': {
      targets: {
        prod: { approvals: [{ role: 'sre' }, { role: 'security' }], highRisk: true },
        old: { enabled: false },
      },
    },
    'arcgis.groups.refresh': { requesters: { users: ['U0ANN'] } },
  },
});

const TARGETS: Record<string, string[]> = { ece: ['prod', 'staging', 'old'], arcgis: ['prod'] };

function ask(person: Person, channel: string, actionIds: string[]): AccessQuestion {
  return {
    person,
    binding: bindingFor(policy.channels, channel),
    roles: Object.keys(policy.roles).flatMap((name) => resolveAudience(policy, [name], name)),
    actions: actionIds.map((actionId) => {
      const vendor = actionId.split('.')[0]!;
      return {
        actionId,
        vendor,
        needsApproval: true,
        targets: (TARGETS[vendor] ?? []).map((target) => ({
          ...resolveActionPolicy(policy, actionId, target),
          target,
        })),
      };
    }),
  };
}

const bob: Person = { user: 'U0BOB', groups: new Set() };
const dave: Person = { user: 'U0DAVE', groups: new Set(['S0SRE']) };
const sue: Person = { user: 'U0SUE', groups: new Set() };

describe('explainAccess', () => {
  it.each<[string, Person, string, string, Record<string, string | true>]>([
    [
      'a requester by role, on every target that is on',
      bob,
      'C0OPS1',
      'ece.resource.restart',
      { prod: true, staging: true, old: 'ece.resource.restart is turned off on old (enabled: false)' },
    ],
    [
      'a requester through a user group',
      dave,
      'C0OPS1',
      'ece.resource.restart',
      { prod: true, staging: true },
    ],
    [
      'someone in none of the requester roles, told which roles would do',
      sue,
      'C0OPS1',
      'ece.resource.restart',
      { prod: 'you are in none of its requester roles (@sre)' },
    ],
    [
      'an inline requester list',
      bob,
      'C0OPS1',
      'arcgis.groups.refresh',
      { prod: 'you are not among its requesters' },
    ],
    [
      'a channel bound to other targets',
      bob,
      'C0STAGE1',
      'ece.resource.restart',
      {
        prod: "this channel's binding (policy.channels.C0STAGE1) does not include target ece.prod",
        staging: true,
      },
    ],
    [
      'a channel bound to other actions',
      bob,
      'C0STAGE1',
      'arcgis.groups.refresh',
      { prod: "this channel's binding (policy.channels.C0STAGE1) does not include arcgis.groups.refresh" },
    ],
    [
      'a channel with no binding',
      bob,
      'C0ELSE1',
      'ece.resource.restart',
      { staging: 'opsbot is not open in this channel (policy.channels)' },
    ],
  ])('%s', (_name, person, channel, actionId, expected) => {
    const [action] = explainAccess(ask(person, channel, [actionId])).actions;
    for (const [target, answer] of Object.entries(expected)) {
      const access = action!.targets.find((t) => t.target === target)!.request;
      expect(access.ok ? true : access.reason).toBe(answer);
    }
  });

  it('names the roles a requester is allowed by', () => {
    const explanation = explainAccess(ask(dave, 'C0OPS1', ['ece.resource.restart']));
    expect(explanation.roles).toEqual(['@sre']);
    expect(explanation.actions[0]!.targets[0]!.request).toEqual({ ok: true, via: ['@sre'] });
  });

  it('says which approval rules the person counts toward, and whether four eyes apply', () => {
    const [action] = explainAccess(ask(sue, 'C0OPS1', ['ece.resource.restart'])).actions;
    const prod = action!.targets.find((t) => t.target === 'prod')!.approve;
    expect(prod).toEqual({
      may: true,
      rules: [
        { label: '@sre', count: 1, member: false },
        { label: '@security', count: 1, member: true },
      ],
      ownRequests: false,
      highRisk: true,
    });
    const staging = action!.targets.find((t) => t.target === 'staging')!.approve;
    expect(staging).toMatchObject({ may: false, ownRequests: true });
    const old = explainAccess(ask(bob, 'C0OPS1', ['ece.resource.restart'])).actions[0]!.targets.find(
      (t) => t.target === 'old',
    )!;
    expect(old.approve.may).toBe(false);
  });
});

describe('whoamiText', () => {
  it('lists what the person may do here, one line per action', () => {
    const text = whoamiText(
      explainAccess(ask(bob, 'C0STAGE1', ['ece.resource.restart', 'arcgis.groups.refresh'])),
      {
        command: '/ops',
        user: 'U0BOB',
      },
    );
    expect(text).toBe(
      [
        '*What <@U0BOB> may do here*',
        'Your roles: @sre.',
        'This channel (policy.channels.C0STAGE1): actions ece.* · targets ece.staging.',
        '• `ece.resource.restart`: request on staging (as @sre) · approve on staging (as @sre).',
        "• `arcgis.groups.refresh`: not in this channel's binding.",
        '`/ops whoami <action>` explains one action, target by target.',
      ].join('\n'),
    );
  });

  it('explains one action target by target, with the reason for each refusal', () => {
    const text = whoamiText(explainAccess(ask(sue, 'C0OPS1', ['ece.resource.restart'])), {
      command: '/ops',
      user: 'U0SUE',
      actionId: 'ece.resource.restart',
    });
    expect(text).toBe(
      [
        '*What <@U0SUE> may do with `ece.resource.restart` here*',
        'Your roles: @security.',
        'This channel: every action on every target (policy.channels.C0OPS1).',
        'It needs approval.',
        '• `prod`: you may not request it here: you are in none of its requester roles (@sre). Approval: @sre and @security, one person counting toward one rule; you may approve it, counting toward @security. Four eyes: your approval of your own request does not count (high-risk).',
        '• `staging`: you may not request it here: you are in none of its requester roles (@sre). Approval: @sre; you are not in it, so you may not approve it.',
        '• `old`: you may not request it here: ece.resource.restart is turned off on old (enabled: false). Approval: @sre; you are not in it, so you may not approve it.',
      ].join('\n'),
    );
  });

  it('says nothing of approving a target the channel is not bound to: no request for it can be here', () => {
    const text = whoamiText(explainAccess(ask(bob, 'C0STAGE1', ['ece.resource.restart'])), {
      command: '/ops',
      user: 'U0BOB',
      actionId: 'ece.resource.restart',
    });
    expect(text).toContain(
      "• `prod`: you may not request it here: this channel's binding (policy.channels.C0STAGE1) does not include target ece.prod.\n",
    );
    expect(text).toContain(
      '• `staging`: you may request it (as @sre). Approval: @sre; you may approve it, counting toward @sre.',
    );
  });

  it('keeps to one target with --target, and says when there is no such target', () => {
    const explanation = explainAccess(ask(bob, 'C0OPS1', ['ece.resource.restart']));
    const one = whoamiText(explanation, {
      command: '/ops',
      user: 'U0BOB',
      actionId: 'ece.resource.restart',
      target: 'staging',
    });
    expect(one).toContain('• `staging`: you may request it (as @sre).');
    expect(one).not.toContain('`prod`');
    const none = whoamiText(explanation, {
      command: '/ops',
      user: 'U0BOB',
      actionId: 'ece.resource.restart',
      target: 'dev',
    });
    expect(none).toContain('No ece target is named dev.');
  });
});

describe('maySeeRequest', () => {
  const request = { channel: 'C0A', requester: 'U0REQ', voters: ['U0VOTED'] };
  const roles = (approver: boolean, auditor: boolean) => ({
    mayApprove: async () => approver,
    isAuditor: async () => auditor,
  });

  it.each<[string, { user: string; channel: string }, [boolean, boolean], boolean]>([
    ['anyone in its own channel', { user: 'U0ANY', channel: 'C0A' }, [false, false], true],
    ['an outsider in another channel', { user: 'U0ANY', channel: 'C0B' }, [false, false], false],
    ['its requester anywhere', { user: 'U0REQ', channel: 'C0B' }, [false, false], true],
    ['someone who voted on it, anywhere', { user: 'U0VOTED', channel: 'C0B' }, [false, false], true],
    ['someone who may approve it, anywhere', { user: 'U0ANY', channel: 'C0B' }, [true, false], true],
    ['an auditor anywhere', { user: 'U0ANY', channel: 'C0B' }, [false, true], true],
  ])('%s: %s', async (_name, viewer, [approver, auditor], expected) => {
    expect(await maySeeRequest(request, viewer, roles(approver, auditor))).toBe(expected);
  });

  it('asks no role (no Slack lookup) when the channel settles it', async () => {
    const asked: string[] = [];
    const seen = await maySeeRequest(
      request,
      { user: 'U0ANY', channel: 'C0A' },
      {
        mayApprove: async () => {
          asked.push('mayApprove');
          return false;
        },
        isAuditor: async () => {
          asked.push('isAuditor');
          return false;
        },
      },
    );
    expect({ seen, asked }).toEqual({ seen: true, asked: [] });
  });
});
