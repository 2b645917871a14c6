/**
 * Who sees a request in `/ops status` and `/ops history`. Requests are private to their channel:
 * anyone who may use opsbot in that channel sees its requests (they see the messages anyway);
 * elsewhere only its requester, the people who voted on it, those who may approve it, and
 * auditors (`policy.auditors`, nobody by default) see it. The role checks may need Slack group
 * lookups, so they are asked only when the cheaper facts do not settle it.
 */

export interface VisibleRequest {
  channel: string;
  requester: string;
  /** Everyone who approved (or voted on) it. */
  voters: readonly string[];
}

export interface ViewerRoles {
  mayApprove(): Promise<boolean>;
  isAuditor(): Promise<boolean>;
}

export async function maySeeRequest(
  request: VisibleRequest,
  viewer: { user: string; channel: string },
  roles: ViewerRoles,
): Promise<boolean> {
  if (request.channel === viewer.channel) return true;
  if (request.requester === viewer.user || request.voters.includes(viewer.user)) return true;
  return (await roles.mayApprove()) || (await roles.isAuditor());
}
