import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { followUpPlan } from '../../src/jobs/remind-request.js';
import { resolveActionPolicy } from '../../src/policy/resolve.js';
import { policySchema } from '../../src/policy/schema.js';
import { problemsOf } from '../config/problems.js';

/**
 * Reminders, escalation and the requester's DMs as policy: `reminders` and `notify` may be set
 * under `policy.defaults`, per action and per target like every other setting, are refused with
 * their key when wrong, and become a request's follow-up plan when it opens.
 */

const ROLES = {
  sre: { users: ['U0SRE1'] },
  leads: { users: ['U0LEAD1'], groups: ['S0LEADS'] },
  nobody: { users: [] },
};
const RESTART = 'ece.resource.restart';

function policyOf(sections: Record<string, unknown>) {
  return policySchema.parse({ channels: ['*'], roles: ROLES, ...sections });
}

function refusal(policy: Record<string, unknown>): string[] {
  return problemsOf(() =>
    loadConfig({
      env: { T: 'xoxb-1', S: 'signing-secret-1' },
      document: {
        slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
        targets: {},
        policy: { channels: ['C0OPS1'], roles: ROLES, ...policy },
      },
    }),
  );
}

describe('reminder and notify settings', () => {
  it('remind half way by default, and tell the requester nothing', () => {
    const effective = resolveActionPolicy(policyOf({}), RESTART, 'prod');
    expect(effective.reminders).toEqual({ after: 0.5 });
    expect(effective.notifyRequester).toBe(false);
  });

  it('take the most specific level that sets them, and resolve the escalation role', () => {
    const policy = policyOf({
      defaults: { reminders: { after: 0.25 }, notify: { requester: true } },
      actions: {
        [RESTART]: {
          reminders: { after: 0.4, escalateAfter: 0.9, escalateTo: 'leads' },
          targets: { staging: { reminders: false, notify: { requester: false } } },
        },
      },
    });
    expect(resolveActionPolicy(policy, RESTART, 'prod')).toMatchObject({
      reminders: {
        after: 0.4,
        escalation: {
          after: 0.9,
          to: [{ name: 'leads', declared: true, users: ['U0LEAD1'], groups: ['S0LEADS'] }],
        },
      },
      notifyRequester: true,
    });
    expect(resolveActionPolicy(policy, RESTART, 'staging')).toMatchObject({
      reminders: undefined,
      notifyRequester: false,
    });
    expect(resolveActionPolicy(policy, 'arcgis.groups.refresh', 'prod').reminders).toEqual({ after: 0.25 });
  });

  it('escalate to an inline audience too', () => {
    const policy = policyOf({
      defaults: { reminders: { escalateAfter: 0.75, escalateTo: { groups: ['S0ONCALL'] } } },
    });
    expect(resolveActionPolicy(policy, RESTART, 'prod').reminders).toEqual({
      after: 0.5,
      escalation: {
        after: 0.75,
        to: [{ name: 'escalateTo', declared: false, users: [], groups: ['S0ONCALL'] }],
      },
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'a share outside the window',
      { defaults: { reminders: { after: 1.5 } } },
      'policy.defaults.reminders.after: must be a share of the approval window below 1 (0.5 is half way)',
    ],
    [
      'an escalation with no one to escalate to',
      { actions: { [RESTART]: { reminders: { escalateAfter: 0.8 } } } },
      `policy.actions.${RESTART}.reminders.escalateTo: is required with escalateAfter`,
    ],
    [
      'an escalation before the reminder',
      { defaults: { reminders: { after: 0.6, escalateAfter: 0.5, escalateTo: 'leads' } } },
      'policy.defaults.reminders.escalateAfter: must come after the reminder (after: 0.6)',
    ],
    [
      'an unknown escalation role',
      { defaults: { reminders: { escalateAfter: 0.8, escalateTo: 'lead' } } },
      'policy.defaults.reminders.escalateTo.0: unknown role "lead" (roles: sre, leads, nobody)',
    ],
    [
      'an escalation role with nobody in it',
      { defaults: { reminders: { escalateAfter: 0.8, escalateTo: ['nobody'] } } },
      'policy.defaults.reminders.escalateTo: names no users and no groups, so the escalation would mention nobody',
    ],
    [
      'reminders: true',
      { defaults: { reminders: true } },
      'policy.defaults.reminders: must be false, or { after, escalateAfter, escalateTo }',
    ],
    [
      'a misspelt notify key',
      { defaults: { notify: { requestor: true } } },
      'policy.defaults.notify: unknown key(s) requestor',
    ],
  ])('refuse %s, naming the key', (_name, policy, problem) => {
    expect(refusal(policy)).toContain(problem);
  });
});

describe('a request’s follow-up plan', () => {
  const window = { createdAt: 1_000_000, expiresAt: 1_000_000 + 20 * 60_000 };

  it('puts the reminder and the escalation at their shares of the approval window', () => {
    const policy = policyOf({
      defaults: {
        reminders: { after: 0.5, escalateAfter: 0.8, escalateTo: 'leads' },
        notify: { requester: true },
      },
    });
    expect(followUpPlan(resolveActionPolicy(policy, RESTART, 'prod'), window)).toEqual({
      remindAt: window.createdAt + 10 * 60_000,
      escalation: {
        at: window.createdAt + 16 * 60_000,
        to: [{ name: 'leads', declared: true, users: ['U0LEAD1'], groups: ['S0LEADS'] }],
      },
      notifyRequester: true,
    });
  });

  it('is empty when there is nothing to do', () => {
    const policy = policyOf({ defaults: { reminders: false } });
    expect(followUpPlan(resolveActionPolicy(policy, RESTART, 'prod'), window)).toBeUndefined();
  });
});
