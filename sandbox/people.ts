/**
 * The pretend Slack workspace of the sandbox: one channel and the people in it. What each person
 * may do is declared once, on the person; the sandbox's `policy` and the page's user switcher are
 * both derived from it, so another person is one more entry in `USERS`.
 */

export interface SandboxUser {
  id: string;
  name: string;
  /** What the policy lets this person do, in one line for the user switcher. */
  role: string;
  /** May ask for actions that need approval (read-only actions are open to everyone). */
  requests: boolean;
  /**
   * May approve. Four eyes still applies (`allowSelfApproval` is left at its default, false): a
   * person may approve their own request only when the action is not high-risk.
   */
  approves: boolean;
}

export const ALICE: SandboxUser = {
  id: 'U0SBALICE',
  name: 'Alice',
  role: 'requests and approves',
  requests: true,
  approves: true,
};
export const BOB: SandboxUser = {
  id: 'U0SBBOB',
  name: 'Bob',
  role: 'approves',
  requests: false,
  approves: true,
};
export const CAROL: SandboxUser = {
  id: 'U0SBCAROL',
  name: 'Carol',
  role: 'views only',
  requests: false,
  approves: false,
};

export const USERS: readonly SandboxUser[] = [ALICE, BOB, CAROL];

export const CHANNEL = { id: 'C0SBOPS01', name: 'ops-sandbox' } as const;

/** The fake Slack's bot user (mentions of it render as @opsbot). */
export const BOT = { id: 'UOPSBOT01', name: 'opsbot' } as const;

/**
 * `policy` of the sandbox config, from what each person may do. With the people above: Alice asks
 * and may approve anything but her own high-risk requests (e.g. `workspace reinstall`); Bob
 * approves; Carol only reads (status, history and the read-only actions, which need no approval).
 */
export function sandboxPolicy(
  readOnlyActions: string[],
  actionTimings: Record<string, Record<string, string>>,
) {
  const ids = (may: (user: SandboxUser) => boolean) => USERS.filter(may).map((user) => user.id);
  const actions: Record<string, Record<string, unknown>> = { ...actionTimings };
  for (const id of readOnlyActions) actions[id] = { ...actions[id], requesters: { users: ['*'] } };
  return {
    channels: [CHANNEL.id],
    approvalTimeout: '15m',
    defaults: {
      requesters: { users: ids((user) => user.requests) },
      approvers: { users: ids((user) => user.approves) },
    },
    actions,
    auditors: { users: ['*'] },
  };
}
