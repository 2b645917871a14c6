import { describe, expect, it } from 'vitest';
import { resolveActionPolicy } from '../../src/policy/resolve.js';
import { policySchema } from '../../src/policy/schema.js';

/**
 * One action on one target: `policy.actions.<id>.targets.<target>` over `policy.actions.<id>` over
 * `policy.defaults` over the action's own declaration (workspace reinstall is high-risk, polls
 * every 15 s after a first 10 s and gives up after 45 min; arcgis group refresh declares no first
 * poll delay).
 */

const ROLES = {
  sre: { users: ['U0SRE1'] },
  security: { users: ['U0SEC1'], groups: ['S0SECURITY'] },
};

function policyOf(sections: Record<string, unknown>) {
  return policySchema.parse({ channels: ['*'], roles: ROLES, ...sections });
}

const REINSTALL = 'workspace.server.reinstall';

describe('resolveActionPolicy', () => {
  it('falls back to the action’s own declaration, and to nobody, when the config says nothing', () => {
    const effective = resolveActionPolicy(policyOf({}), REINSTALL, 'apac');
    expect(effective).toEqual({
      actionId: REINSTALL,
      target: 'apac',
      enabled: true,
      requesters: [{ name: 'requesters', declared: false, users: [], groups: [] }],
      approvals: [
        {
          label: 'approvers',
          count: 1,
          audience: [{ name: 'approvers', declared: false, users: [], groups: [] }],
        },
      ],
      highRisk: true,
      requesterMayApprove: 'not-for-high-risk',
      requesterCounts: false,
      reason: { required: false, pattern: undefined },
      whenBusy: 'wait',
      cancelInFlight: 'requester-or-approver',
      reminders: { after: 0.5 },
      notifyRequester: false,
      timing: { pollIntervalMs: 15_000, deadlineMs: 45 * 60_000, firstPollDelayMs: 10_000 },
      retry: { attempts: 6, initialDelayMs: 1_000, maxDelayMs: 60_000 },
    });
  });

  it.each<[string, Record<string, unknown>, string | undefined, Record<string, unknown>]>([
    [
      'defaults over the action’s own',
      { defaults: { highRisk: false, deadline: '1h', whenBusy: 'refuse' } },
      'apac',
      { highRisk: false, requesterCounts: true, whenBusy: 'refuse', timing: { deadlineMs: 3_600_000 } },
    ],
    [
      'the action over the defaults',
      {
        defaults: { deadline: '1h', enabled: false },
        actions: { [REINSTALL]: { deadline: '2h', enabled: true } },
      },
      'apac',
      { enabled: true, timing: { deadlineMs: 7_200_000 } },
    ],
    [
      'the target over the action',
      {
        actions: {
          [REINSTALL]: {
            pollInterval: '1m',
            cancelInFlight: 'approvers',
            targets: { apac: { pollInterval: '5s' } },
          },
        },
      },
      'apac',
      { cancelInFlight: 'approvers', timing: { pollIntervalMs: 5_000, firstPollDelayMs: 5_000 } },
    ],
    [
      'another target’s settings do not apply',
      { actions: { [REINSTALL]: { targets: { emea: { highRisk: false, enabled: false } } } } },
      'apac',
      { highRisk: true, enabled: true },
    ],
    [
      'the action-level policy ignores every target’s settings',
      { actions: { [REINSTALL]: { targets: { apac: { highRisk: false } } } } },
      undefined,
      { target: undefined, highRisk: true },
    ],
    [
      'allowSelfApproval, the older spelling, on a target',
      {
        actions: {
          [REINSTALL]: { requesterMayApprove: 'never', targets: { apac: { allowSelfApproval: true } } },
        },
      },
      'apac',
      { requesterMayApprove: 'allowed', requesterCounts: true },
    ],
    [
      'never: the requester never counts, even when not high-risk',
      { defaults: { requesterMayApprove: 'never', highRisk: false } },
      'apac',
      { requesterMayApprove: 'never', requesterCounts: false },
    ],
    [
      'a reason requirement with a pattern',
      {
        actions: { [REINSTALL]: { targets: { apac: { reason: { required: true, pattern: '^OPS-\\d+' } } } } },
      },
      'apac',
      { reason: { required: true, pattern: '^OPS-\\d+' } },
    ],
  ])('%s', (_name, sections, target, expected) => {
    expect(resolveActionPolicy(policyOf(sections), REINSTALL, target)).toMatchObject(expected);
  });

  it('takes the approval rules from the most specific level that sets approvers or approvals', () => {
    const policy = policyOf({
      defaults: { approvers: { users: ['U0BOSS1'] } },
      actions: {
        [REINSTALL]: {
          approvals: [{ role: 'sre' }, { role: 'security', count: 2 }],
          targets: { staging: { approvers: ['sre', 'security'] } },
        },
      },
    });
    expect(resolveActionPolicy(policy, REINSTALL, 'prod').approvals).toEqual([
      { label: '@sre', count: 1, audience: [{ name: 'sre', declared: true, users: ['U0SRE1'], groups: [] }] },
      {
        label: '@security',
        count: 2,
        audience: [{ name: 'security', declared: true, users: ['U0SEC1'], groups: ['S0SECURITY'] }],
      },
    ]);
    expect(resolveActionPolicy(policy, REINSTALL, 'staging').approvals).toMatchObject([
      { label: '@sre or @security', count: 1, audience: [{ name: 'sre' }, { name: 'security' }] },
    ]);
    expect(resolveActionPolicy(policy, 'ece.resource.restart', 'prod').approvals).toMatchObject([
      { label: 'approvers', count: 1, audience: [{ users: ['U0BOSS1'] }] },
    ]);
  });

  it('resolves role names in requesters to the declared roles', () => {
    const policy = policyOf({
      actions: { [REINSTALL]: { targets: { prod: { requesters: ['security'] } } } },
      defaults: { requesters: ['sre'] },
    });
    expect(resolveActionPolicy(policy, REINSTALL, 'prod').requesters).toEqual([
      { name: 'security', declared: true, users: ['U0SEC1'], groups: ['S0SECURITY'] },
    ]);
    expect(resolveActionPolicy(policy, REINSTALL, 'staging').requesters).toEqual([
      { name: 'sre', declared: true, users: ['U0SRE1'], groups: [] },
    ]);
  });

  // The first poll: a configured firstPollDelay (at any level), else a configured pollInterval
  // (at any level), else the action's own first delay, else its own poll interval.
  it.each<[string, Record<string, unknown>, number]>([
    ['the action’s own first delay when the config sets neither', {}, 10_000],
    ['a configured poll interval alone moves the first poll too', { pollInterval: '2m' }, 120_000],
    ['a configured first poll delay wins', { pollInterval: '2m', firstPollDelay: '3s' }, 3_000],
    [
      'a first poll delay on the action wins over a poll interval on the target',
      { firstPollDelay: '3s', targets: { apac: { pollInterval: '2m' } } },
      3_000,
    ],
    ['a poll interval on the target alone', { targets: { apac: { pollInterval: '2m' } } }, 120_000],
  ])('first poll: %s', (_name, settings, firstPollDelayMs) => {
    const policy = policyOf({ actions: { [REINSTALL]: settings } });
    expect(resolveActionPolicy(policy, REINSTALL, 'apac').timing.firstPollDelayMs).toBe(firstPollDelayMs);
  });

  it('takes each retry setting from the nearest level that sets it, then from vendors.retry', () => {
    const policy = policyOf({
      defaults: { retry: { maxDelay: '5m' } },
      actions: {
        [REINSTALL]: { retry: { attempts: 3 }, targets: { apac: { retry: { initialDelay: '10s' } } } },
      },
    });
    const vendors = { attempts: 8, initialDelay: 2_000, maxDelay: 30_000 };
    expect(resolveActionPolicy(policy, REINSTALL, 'apac', vendors).retry).toEqual({
      attempts: 3,
      initialDelayMs: 10_000,
      maxDelayMs: 300_000,
    });
    expect(resolveActionPolicy(policy, REINSTALL, 'emea', vendors).retry).toEqual({
      attempts: 3,
      initialDelayMs: 2_000,
      maxDelayMs: 300_000,
    });
    expect(resolveActionPolicy(policyOf({}), REINSTALL, 'emea', vendors).retry).toEqual({
      attempts: 8,
      initialDelayMs: 2_000,
      maxDelayMs: 30_000,
    });
  });

  it('waits its own poll interval first when neither the config nor the action says otherwise', () => {
    const policy = policyOf({ actions: { 'arcgis.groups.refresh': { pollInterval: '7s' } } });
    expect(resolveActionPolicy(policy, 'arcgis.groups.refresh', 'prod').timing).toEqual({
      pollIntervalMs: 7_000,
      firstPollDelayMs: 7_000,
      deadlineMs: 10 * 60_000,
    });
  });
});
