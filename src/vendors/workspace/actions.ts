import { z } from 'zod';
import { VendorError } from '../../errors.js';
import { flag, pathSegment, UUID } from '../params.js';
import type { ActionDef, ActionProgress } from '../types.js';
import type { WorkspaceClient } from './client.js';
import type { AppServer } from './schemas.js';
import { jobOutcome, jobProgress, type ReinstallMemo } from './status.js';

const reinstallArgs = z.object({
  serverId: pathSegment('server id', UUID),
  updateAgent: flag,
});
export type ReinstallArgs = z.infer<typeof reinstallArgs>;

/** `workspace.server.reinstall`: rebuild an application server from its image (destructive). */
export const reinstallServer: ActionDef<ReinstallArgs, WorkspaceClient> = {
  id: 'workspace.server.reinstall',
  verb: 'reinstall',
  summary: 'reinstall an application server from its image (wipes its system disk)',
  params: [
    {
      name: 'serverId',
      kind: 'positional',
      label: '<server-id>',
      help: 'the application server id (a UUID)',
    },
    {
      name: 'updateAgent',
      kind: 'flag',
      flag: '--update-agent',
      label: '',
      help: 'also upgrade the access agent',
      optional: true,
    },
  ],
  args: reinstallArgs,
  examples: [
    'workspace reinstall 25b1dd14-0c84-4558-aa57-03a6c54b8e75',
    'workspace reinstall 25b1dd14-0c84-4558-aa57-03a6c54b8e75 --update-agent',
  ],
  mode: 'async',
  highRisk: true,
  // Huawei's Terraform provider waits ~10 s before the first look, then polls every 15–30 s.
  timing: { firstPollDelayMs: 10_000, pollIntervalMs: 15_000, deadlineMs: 45 * 60_000 },

  describe: (args) => ({
    fields: [
      { label: 'Server', value: args.serverId },
      { label: 'Update access agent', value: args.updateAgent ? 'yes' : 'no' },
    ],
    warnings: [
      `Server ${args.serverId} is rebuilt from its image and its system disk is wiped: anything stored on it is lost.`,
      ...(args.updateAgent ? ['--update-agent: the access agent is upgraded as part of the reinstall.'] : []),
    ],
  }),

  async start(ctx, args): Promise<ActionProgress> {
    const { jobId, requestId } = await ctx.client.reinstall(args.serverId, args.updateAgent, ctx.scope);
    const memo: ReinstallMemo = { jobId, serverId: args.serverId, requestId: requestId ?? null };
    return {
      outcome: 'running',
      vendorJobId: jobId,
      status: 'submitted',
      detail: `reinstall job ${jobId} accepted${requestId ? ` · Huawei request id ${requestId}` : ''}`,
      memo,
    };
  },

  async poll(ctx, _args, last): Promise<ActionProgress> {
    const memo = last.memo as ReinstallMemo;
    return jobProgress(await ctx.client.job(memo.jobId, ctx.scope), memo);
  },

  async dryRun(ctx, args) {
    return {
      call: ctx.client.previewReinstall(args.serverId, args.updateAgent),
      currentState: await serverState(ctx.client, args.serverId),
    };
  },
};

/** How the server stands now, one line each; a server Huawei does not know is said so. */
async function serverState(client: WorkspaceClient, serverId: string): Promise<string[]> {
  let server: AppServer;
  try {
    server = await client.server(serverId);
  } catch (error) {
    if (error instanceof VendorError && error.httpStatus === 404) return [`not found: ${error.message}`];
    throw error;
  }
  const name = server.name ?? server.machine_name ?? serverId;
  const lines = [
    `server ${name}: status ${server.status ?? 'unknown'}, vm ${server.vm_status ?? 'unknown'}, task ${server.task_status ?? 'none'}`,
    `maintenance mode ${server.maintain_status ? 'on' : 'off'}, ${server.session_count ?? 0} active session(s)`,
  ];
  if (server.job_id) {
    const running = server.job_status ? jobOutcome(server.job_status) === 'running' : false;
    const job = [server.job_type, server.job_id, server.job_status].filter(Boolean).join(' ');
    lines.push(
      `last job ${job}${running ? ' — still running: the reinstall is refused (HTTP 409) until it ends' : ''}`,
    );
  }
  return lines;
}
