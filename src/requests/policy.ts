import type { WebClient } from '@slack/web-api';
import type { Config, ResolvedActionPolicy } from '../config/load.js';
import type { Audience } from '../config/schema.js';

/**
 * Who may do what. Users are matched by id; user groups by asking Slack for their members
 * (`usergroups.users.list`), cached for a minute so a click never waits on it twice.
 */
export class Policy {
  readonly #groupCache = new Map<string, { members: Set<string>; until: number }>();

  constructor(
    private readonly config: Pick<Config, 'policy' | 'actions'>,
    private readonly slack: WebClient,
    private readonly cacheMs = 60_000,
  ) {}

  channelAllowed(channel: string): boolean {
    const channels = this.config.policy.channels;
    return channels.includes('*') || channels.includes(channel);
  }

  action(actionId: string): ResolvedActionPolicy | undefined {
    return this.config.actions.get(actionId);
  }

  async mayRequest(actionId: string, user: string): Promise<boolean> {
    const policy = this.action(actionId);
    return policy?.enabled === true && (await this.isIn(policy.requesters, user));
  }

  async mayApprove(actionId: string, user: string): Promise<boolean> {
    const policy = this.action(actionId);
    return policy?.enabled === true && (await this.isIn(policy.approvers, user));
  }

  async isAuditor(user: string): Promise<boolean> {
    return this.isIn(this.config.policy.auditors, user);
  }

  /** Four eyes: a high-risk request needs someone other than the requester, unless policy allows it. */
  selfApprovalRefused(actionId: string, highRisk: boolean, requester: string, approver: string): boolean {
    return highRisk && requester === approver && this.action(actionId)?.allowSelfApproval !== true;
  }

  private async isIn(audience: Audience, user: string): Promise<boolean> {
    if (audience.users.includes('*') || audience.users.includes(user)) return true;
    for (const group of audience.groups) {
      if ((await this.members(group)).has(user)) return true;
    }
    return false;
  }

  private async members(group: string): Promise<Set<string>> {
    const cached = this.#groupCache.get(group);
    if (cached && cached.until > Date.now()) return cached.members;
    const answer = await this.slack.usergroups.users.list({ usergroup: group });
    const members = new Set(answer.users ?? []);
    this.#groupCache.set(group, { members, until: Date.now() + this.cacheMs });
    return members;
  }
}
