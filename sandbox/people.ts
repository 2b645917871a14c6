/**
 * The pretend Slack workspace of the sandbox: one channel and three people whose policy roles
 * differ, so four eyes and refusals can be tried by switching between them in the page.
 */

export interface SandboxUser {
  id: string;
  name: string;
  /** What the policy lets this person do, in one line for the user switcher. */
  role: string;
}

export const ALICE: SandboxUser = { id: 'U0SBALICE', name: 'Alice', role: 'requests and approves' };
export const BOB: SandboxUser = { id: 'U0SBBOB', name: 'Bob', role: 'approves' };
export const CAROL: SandboxUser = { id: 'U0SBCAROL', name: 'Carol', role: 'views only' };

export const USERS: readonly SandboxUser[] = [ALICE, BOB, CAROL];

export const CHANNEL = { id: 'C0SBOPS01', name: 'ops-sandbox' } as const;

/** The fake Slack's bot user (mentions of it render as @opsbot). */
export const BOT = { id: 'UOPSBOT01', name: 'opsbot' } as const;

/**
 * `policy` of the sandbox config: Alice may request and approve, Bob may only approve, Carol
 * may do nothing but read-only actions (which need no approval and are open to everyone here).
 */
export function sandboxPolicy(
  readOnlyActions: string[],
  actionTimings: Record<string, Record<string, string>>,
) {
  const actions: Record<string, Record<string, unknown>> = { ...actionTimings };
  for (const id of readOnlyActions) actions[id] = { ...actions[id], requesters: { users: ['*'] } };
  return {
    channels: [CHANNEL.id],
    approvalTimeout: '15m',
    defaults: {
      requesters: { users: [ALICE.id] },
      approvers: { users: [ALICE.id, BOB.id] },
    },
    actions,
    auditors: { users: ['*'] },
  };
}
