import { z } from 'zod';
import { excerpt } from '../../slack/mrkdwn.js';
import { commaList } from '../params.js';
import type { ActionDef } from '../types.js';
import type { ArcgisClient } from './client.js';

/**
 * `/ops arcgis refresh-groups <name>[,<name>…]`: refreshes the membership of enterprise groups
 * from the identity store (`POST {admin}/orgs/{orgId}/security/groups/refreshMembership`). The
 * call is synchronous and is the whole action.
 */

/**
 * Enterprise group names come from the identity store (LDAP, SAML): letters of any script,
 * digits, spaces and the punctuation such names use. Commas separate names in the `groups`
 * field, and control characters never belong in one.
 */
const GROUP_NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._@'&()+#!~\\-]*$/u;

const groupName = z
  .string()
  .max(256, 'a group name has at most 256 characters')
  .refine((name) => GROUP_NAME.test(name), {
    error: (issue) =>
      `group name "${excerpt(String(issue.input))}" may only use letters, digits, spaces and . _ - @ ' & ( ) + # ! ~ \\, starting with a letter or digit`,
  });

const args = z.object({ groups: commaList('group names', groupName, 100) });
type Args = z.infer<typeof args>;

export const refreshGroups: ActionDef<Args, ArcgisClient> = {
  id: 'arcgis.groups.refresh',
  verb: 'refresh-groups',
  summary: 'Refresh the membership of enterprise groups from the identity store',
  params: [
    {
      name: 'groups',
      kind: 'positional',
      label: '<name>[,<name>…]',
      help: 'enterprise group names, separated by commas, e.g. cartographers,analyst',
    },
  ],
  args,
  examples: ['arcgis refresh-groups cartographers,analyst'],
  mode: 'sync',
  highRisk: false,
  // Not polled: the start call is the whole action. The call itself may take up to 5 minutes.
  timing: { pollIntervalMs: 5_000, deadlineMs: 10 * 60_000 },

  describe: ({ groups }) => ({
    fields: [
      { label: groups.length === 1 ? 'Group' : `Groups (${groups.length})`, value: groups.join(', ') },
      { label: 'Call', value: 'POST …/admin/orgs/{orgId}/security/groups/refreshMembership' },
    ],
    warnings: [],
  }),

  async start({ client, scope }, { groups }) {
    const org = await client.orgId(scope);
    const status = await client.refreshMembership(org.id, groups, scope);
    const ok = status.toLowerCase() === 'success';
    return {
      outcome: ok ? 'succeeded' : 'failed',
      status,
      detail: `membership of ${groups.length} ${groups.length === 1 ? 'group' : 'groups'} ${ok ? 'refreshed' : 'not refreshed'}`,
      result: [`groups: ${groups.join(', ')}`, `organization: ${org.id}`],
      memo: {},
    };
  },

  async dryRun({ client }, { groups }) {
    const org = await client.orgId();
    return {
      call: client.describeCall(client.refreshMembershipCall(org.id, groups)),
      currentState: [
        `organization ${org.id} (${org.source === 'configured' ? 'from the target config' : 'discovered with GET /admin/orgs'})`,
      ],
    };
  },
};
