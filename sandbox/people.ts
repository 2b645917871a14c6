/**
 * The pretend Slack workspace of the sandbox: one channel and the people in it. What each person
 * may do is declared once, on the person (whether they ask, and their roles); the sandbox's
 * `policy` and the page's user switcher are both derived from it, so another person is one more
 * entry in `USERS`.
 */

/** The sandbox's roles: @sre runs things, @security signs off on prod. */
export type SandboxRole = 'sre' | 'security' | 'auditor';

export interface SandboxUser {
  id: string;
  name: string;
  /** What the policy lets this person do, in one line for the user switcher. */
  role: string;
  /** May ask for actions that need approval (read-only actions are open to everyone). */
  requests: boolean;
  /**
   * The roles the person is in. Anyone in @sre may approve; a prod restart needs one approval from
   * @sre and one from @security. Four eyes still apply: a person's own approval counts only when
   * the action is not high-risk (`requesterMayApprove` is left at its default).
   */
  roles: SandboxRole[];
}

export const ALICE: SandboxUser = {
  id: 'U0SBALICE',
  name: 'Alice',
  role: '@sre: requests and approves',
  requests: true,
  roles: ['sre'],
};
export const BOB: SandboxUser = {
  id: 'U0SBBOB',
  name: 'Bob',
  role: '@sre: approves',
  requests: false,
  roles: ['sre'],
};
export const CAROL: SandboxUser = {
  id: 'U0SBCAROL',
  name: 'Carol',
  role: 'auditor: views only',
  requests: false,
  roles: ['auditor'],
};
export const DAVE: SandboxUser = {
  id: 'U0SBDAVE',
  name: 'Dave',
  role: '@security: approves prod',
  requests: false,
  roles: ['security'],
};

export const USERS: readonly SandboxUser[] = [ALICE, BOB, CAROL, DAVE];

export const CHANNEL = { id: 'C0SBOPS01', name: 'ops-sandbox' } as const;

/** The fake Slack's bot user (mentions of it render as @opsbot). */
export const BOT = { id: 'UOPSBOT01', name: 'opsbot' } as const;

/**
 * `policy` of the sandbox config, from what each person may do. With the people above: Alice asks
 * and may approve anything but her own high-risk requests (e.g. `workspace reinstall`); Bob
 * approves; Dave (@security) approves only what needs @security: a restart on the prod-like ECE
 * target (`prodTarget`), which is high-risk, needs one approval from @sre and one from
 * @security, and a reason naming a ticket (`--reason "OPS-123 …"`). Carol only reads (status,
 * history and the read-only actions, which need no approval); she is the auditor, who may check
 * the audit trail's chain (`/ops audit verify`).
 */
export function sandboxPolicy(
  readOnlyActions: string[],
  actionTimings: Record<string, Record<string, string>>,
  prodTarget: { action: string; target: string },
) {
  const ids = (may: (user: SandboxUser) => boolean) => USERS.filter(may).map((user) => user.id);
  const actions: Record<string, Record<string, unknown>> = { ...actionTimings };
  for (const id of readOnlyActions) actions[id] = { ...actions[id], requesters: { users: ['*'] } };
  actions[prodTarget.action] = {
    ...actions[prodTarget.action],
    targets: {
      [prodTarget.target]: {
        highRisk: true,
        approvals: [{ role: 'sre' }, { role: 'security' }],
        reason: { required: true, pattern: '^OPS-[0-9]+' },
      },
    },
  };
  return {
    roles: {
      sre: { users: ids((user) => user.roles.includes('sre')) },
      security: { users: ids((user) => user.roles.includes('security')) },
    },
    channels: [CHANNEL.id],
    approvalTimeout: '15m',
    defaults: {
      requesters: { users: ids((user) => user.requests) },
      approvers: ['sre'],
      // The requester hears of the approval and the end by DM (the page's Direct messages).
      notify: { requester: true },
      // A request nobody approves is reminded of in its thread after 90 s (a tenth of its window),
      // soon enough to see while trying the sandbox.
      reminders: { after: 0.1 },
    },
    actions,
    auditors: { users: ids((user) => user.roles.includes('auditor')) },
  };
}
