import { describe, expect, it } from 'vitest';
import type { ApprovalRule, Role } from '../../src/policy/model.js';
import type { OpsRequest } from '../../src/requests/types.js';
import {
  escalationReply,
  reminderReply,
  requesterDmMessage,
  type SlackMessage,
} from '../../src/slack/blocks.js';
import { slackDate } from '../../src/slack/mrkdwn.js';
import { requesterDm } from '../../src/slack/requester-dm.js';

/**
 * The reminder, the escalation and the requester's DM, read as a person reads them: who is
 * mentioned (and who is not), and what the DM says for each way a request goes.
 */

const CREATED = Date.UTC(2025, 4, 1, 10, 0, 0);
const REQUESTER = 'U0REQUEST1';

const role = (name: string, users: string[], groups: string[] = []): Role => ({
  name,
  declared: true,
  users,
  groups,
});
const rule = (who: Role, count = 1): ApprovalRule => ({ label: `@${who.name}`, audience: [who], count });

const SRE = role('sre', ['U0SRE1', 'U0SRE2', REQUESTER], ['S0SRE']);
const SECURITY = role('security', ['U0SEC1'], ['S0SECURITY']);
const LEADS = role('leads', ['U0LEAD1'], ['S0LEADS']);

function request(fields: Partial<OpsRequest> = {}): OpsRequest {
  return {
    id: 'op-7k3m9q',
    actionId: 'ece.resource.restart',
    vendor: 'ece',
    target: 'prod',
    args: {},
    summary: { fields: [], warnings: [] },
    channel: 'C0OPSCHAN1',
    requester: REQUESTER,
    createdAt: CREATED,
    expiresAt: CREATED + 15 * 60_000,
    highRisk: true,
    state: 'pending',
    version: 1,
    phase: 'queued',
    reported: 0,
    faults: 0,
    fence: 0,
    votes: [],
    quorum: { rules: [rule(SRE), rule(SECURITY)], requesterCounts: false },
    correlationId: 'c1',
    ...fields,
  };
}

function shown(message: SlackMessage | undefined): string {
  if (!message) throw new Error('no message');
  return `${message.text}\n${JSON.stringify(message.blocks ?? [])}`;
}

describe('the reminder', () => {
  it('mentions everyone who could still meet each rule short of approvals, groups as subteams', () => {
    const text = shown(reminderReply(request()));
    expect(text).toContain('0 of 2 · still needs @sre and @security');
    expect(text).toContain('@sre: <!subteam^S0SRE> <@U0SRE1> <@U0SRE2>');
    expect(text).toContain('@security: <!subteam^S0SECURITY> <@U0SEC1>');
    expect(text).toContain(slackDate(CREATED + 15 * 60_000));
  });

  it('leaves out the rules already met, who already approved, and a requester who cannot count', () => {
    const text = shown(reminderReply(request({ votes: [{ user: 'U0SRE1', eligible: [0], at: CREATED }] })));
    expect(text).toContain('1 of 2 · still needs @security');
    expect(text).not.toContain('S0SRE');
    expect(text).not.toContain('U0SRE1');
    expect(text).not.toContain(REQUESTER);

    const twoFromSre = request({
      quorum: { rules: [rule(SRE, 2)], requesterCounts: false },
      votes: [{ user: 'U0SRE1', eligible: [0], at: CREATED }],
    });
    const left = shown(reminderReply(twoFromSre));
    expect(left).toContain('@sre: <!subteam^S0SRE> <@U0SRE2>');
    expect(left).not.toContain('U0SRE1');
    expect(left).not.toContain(REQUESTER);
  });

  it('mentions the requester where their approval counts', () => {
    const text = shown(reminderReply(request({ quorum: { rules: [rule(SRE)], requesterCounts: true } })));
    expect(text).toContain(`<@${REQUESTER}>`);
  });

  it('names a rule anyone may meet without mentioning anyone', () => {
    const anyone = rule(role('anyone', ['*']));
    const text = shown(reminderReply(request({ quorum: { rules: [anyone], requesterCounts: true } })));
    expect(text).toContain('still needs @anyone');
    expect(text).not.toContain('<@*>');
  });

  it('says nothing once the quorum is met, or without rules', () => {
    const votes = [
      { user: 'U0SRE1', eligible: [0], at: CREATED },
      { user: 'U0SEC1', eligible: [1], at: CREATED },
    ];
    expect(reminderReply(request({ votes }))).toBeUndefined();
    expect(reminderReply(request({ quorum: undefined }))).toBeUndefined();
  });
});

describe('the escalation', () => {
  const escalated = (fields: Partial<OpsRequest> = {}) =>
    request({ followUp: { escalation: { at: CREATED + 12 * 60_000, to: [LEADS] } }, ...fields });

  it('names the escalation role and mentions its people and groups', () => {
    const text = shown(escalationReply(escalated()));
    expect(text).toContain('*Escalation*');
    expect(text).toContain('0 of 2 · still needs @sre and @security');
    expect(text).toContain('@leads: <!subteam^S0LEADS> <@U0LEAD1> please find an approver');
  });

  it('says nothing without an escalation, or once the quorum is met', () => {
    expect(escalationReply(request())).toBeUndefined();
    const votes = [
      { user: 'U0SRE1', eligible: [0], at: CREATED },
      { user: 'U0SEC1', eligible: [1], at: CREATED },
    ];
    expect(escalationReply(escalated({ votes }))).toBeUndefined();
  });
});

describe('the requester’s DM', () => {
  const told = (fields: Partial<OpsRequest>) => request({ followUp: { notifyRequester: true }, ...fields });

  it('is sent to the requester only where the request’s plan says so, and not while it waits', () => {
    expect(requesterDm(request({ state: 'rejected', rejectedBy: 'U0SEC1' }))).toEqual([]);
    expect(requesterDm(told({}))).toEqual([]);
    expect(requesterDm(told({ state: 'approved', approver: 'U0SEC1' }))).toMatchObject([
      { key: 'dm-approved', kind: 'dm', user: REQUESTER },
    ]);
  });

  it.each<[string, Partial<OpsRequest>, string]>([
    ['approval', { state: 'approved', approver: 'U0SEC1' }, '*Approved* by <@U0SEC1>'],
    [
      'rejection',
      { state: 'rejected', rejectedBy: 'U0SEC1', decisionReason: 'not during <!channel> & the freeze' },
      '*Rejected* by <@U0SEC1> · “not during &lt;!channel&gt; &amp; the freeze”',
    ],
    ['expiry', { state: 'expired' }, '*Expired* · nobody approved it in time'],
    [
      'success',
      { state: 'succeeded', approver: 'U0SEC1', decidedAt: CREATED, finishedAt: CREATED + 65_000 },
      '*Succeeded* in 1m 5s',
    ],
    [
      'failure',
      { state: 'failed', approver: 'U0SEC1', outcome: 'plan <failed>' },
      '*Failed* · approved by <@U0SEC1> · plan &lt;failed&gt;',
    ],
    [
      'a timeout',
      { state: 'timed_out', outcome: 'gave up after 2h' },
      '*Timed out waiting* · gave up after 2h',
    ],
    ['a cancel', { state: 'cancelled', cancelledBy: 'U0SRE1' }, '*Cancelled* by <@U0SRE1>'],
  ])('says how it went: %s, linking back to the request in its channel', (_name, fields, line) => {
    const [item] = requesterDm(told(fields));
    const text = shown(item?.kind === 'dm' ? item.message : undefined);
    expect(text).toContain(line);
    expect(text).toContain('`op-7k3m9q` in <#C0OPSCHAN1>');
    expect(item?.key).toBe(fields.state === 'approved' ? 'dm-approved' : 'dm-end');
  });

  it('has a plain notification text', () => {
    expect(requesterDmMessage(told({ state: 'expired' })).text).toBe(
      'Your request ece.resource.restart on ece/prod (op-7k3m9q): expired',
    );
  });
});
