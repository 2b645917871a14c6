import { z } from 'zod';
import { OpsError, VendorError } from '../../errors.js';
import { pathSegment } from '../params.js';
import type { ActionDef, ActionProgress, Json } from '../types.js';
import type { ArcgisClient } from './client.js';
import { similarDeployments } from './did-you-mean.js';
import type { JobResource } from './schemas.js';
import { jobState, resultLines } from './status.js';

/**
 * `/ops arcgis refresh-deployment <deployment-id>`: restarts the pods of one microservice
 * deployment and re-creates it (`POST {admin}/system/deployments/{id}/refresh`, async=true),
 * then follows the Job resource until it ends.
 */

/** Consecutive UNAVAILABLE answers tolerated before giving up (doc: transient, "keep polling"). */
export const UNAVAILABLE_CAP = 10;

/** Ids look like `kvyxph9w5h3o9vgk8dixn` (doc examples: ~21 lowercase letters and digits, not k8s names). */
const deploymentId = pathSegment('deployment id', {
  regex: /^[a-z0-9]{10,40}$/,
  shape: 'an ArcGIS deployment id (10–40 lowercase letters and digits, e.g. kvyxph9w5h3o9vgk8dixn)',
});

const args = z.object({ deploymentId });
type Args = z.infer<typeof args>;

/** What the next poll needs; stored between polls, so any worker can continue. */
const memoSchema = z.object({
  jobId: z.string(),
  /** As ArcGIS gave it; kept for the record. Polls use `{admin}/jobs/{jobId}` on the configured site. */
  jobsUrl: z.string().optional(),
  unavailableStreak: z.number().int().nonnegative(),
});
type Memo = z.infer<typeof memoSchema>;

const DETAILS: Record<string, string> = {
  SUBMITTED: 'refresh queued',
  EXECUTING: "restarting the deployment's pods",
  CANCELLING: 'refresh being cancelled',
  COMPLETED: 'deployment re-created',
  FAILED: 'refresh failed',
  CANCELLED: 'refresh cancelled',
  UNAVAILABLE: 'job status unavailable for now; still following',
};

export const refreshDeployment: ActionDef<Args, ArcgisClient> = {
  id: 'arcgis.deployment.refresh',
  verb: 'refresh-deployment',
  summary: 'Restart the pods of one microservice deployment and re-create it',
  params: [
    {
      name: 'deploymentId',
      kind: 'positional',
      label: '<deployment-id>',
      help: 'the deployment id from the admin API (System > Deployments), e.g. kvyxph9w5h3o9vgk8dixn',
    },
  ],
  args,
  examples: ['arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn'],
  mode: 'async',
  highRisk: false,
  timing: { pollIntervalMs: 5_000, firstPollDelayMs: 2_000, deadlineMs: 30 * 60_000 },

  describe: ({ deploymentId }) => ({
    fields: [
      { label: 'Deployment', value: deploymentId },
      { label: 'Call', value: `POST …/admin/system/deployments/${deploymentId}/refresh (async)` },
    ],
    warnings: [
      "every pod of this deployment restarts: the services it hosts are unavailable until they're ready again",
    ],
  }),

  async start({ client, scope }, { deploymentId }) {
    const started = await client.refreshDeployment(deploymentId, scope);
    if (started.kind === 'done') {
      // 10.9.0 has no async refresh: the answer came when the refresh was over.
      const ok = started.status.toLowerCase() === 'success';
      return {
        outcome: ok ? 'succeeded' : 'failed',
        status: started.status,
        detail: 'refreshed synchronously (this ArcGIS release has no asynchronous refresh)',
        memo: {},
      };
    }
    const memo: Memo = {
      jobId: started.jobId,
      unavailableStreak: 0,
      ...(started.jobsUrl ? { jobsUrl: started.jobsUrl } : {}),
    };
    return progress({ jobid: started.jobId, status: started.jobStatus }, memo, undefined);
  },

  async poll({ client, scope }, _args, last) {
    const memo = readMemo(last.memo);
    const job = await client.job(memo.jobId, scope);
    return progress(job, memo, last.status);
  },

  async dryRun({ client }, { deploymentId }) {
    return {
      call: client.describeCall(client.refreshDeploymentCall(deploymentId)),
      currentState: await deploymentState(client, deploymentId),
    };
  },
};

function progress(job: JobResource, previous: Memo, lastStatus: string | undefined): ActionProgress {
  const status = job.status.toUpperCase().slice(0, 40);
  const state = jobState(status);
  const streak = state.transient ? previous.unavailableStreak + 1 : 0;
  const memo: Memo = { ...previous, unavailableStreak: streak };
  const base = { vendorJobId: memo.jobId, status, memo: memo as unknown as Json };
  if (streak >= UNAVAILABLE_CAP) {
    return {
      ...base,
      outcome: 'failed',
      detail: 'job status stayed unavailable',
      result: [
        `ArcGIS answered UNAVAILABLE for job ${memo.jobId} ${streak} times in a row; the refresh may still be running — check the deployment's status`,
      ],
    };
  }
  const ended = state.outcome !== 'running';
  const result = ended ? resultLines(job.result) : undefined;
  return {
    ...base,
    outcome: state.outcome,
    detail: DETAILS[status] ?? 'unknown job status; still following',
    notes:
      !state.known && status !== lastStatus
        ? [
            `ArcGIS reported job status "${status}", which its documentation does not list; opsbot keeps following the job`,
          ]
        : undefined,
    result:
      state.outcome === 'failed' && result?.length === 0
        ? [`job ${memo.jobId} ended FAILED without a message`]
        : result,
  };
}

function readMemo(memo: Json): Memo {
  const parsed = memoSchema.safeParse(memo);
  if (parsed.success) return parsed.data;
  throw new OpsError(
    'arcgis.memo',
    'the stored state of this ArcGIS refresh is unreadable, so its job cannot be followed',
  );
}

/** One line on how the deployment stands, or why it cannot be read and which ids are close. */
async function deploymentState(client: ArcgisClient, deploymentId: string): Promise<string[]> {
  try {
    const status = await client.deploymentStatus(deploymentId);
    const pods =
      status.readyReplicas !== undefined && status.totalReplicas !== undefined
        ? `, ${status.readyReplicas}/${status.totalReplicas} pods ready`
        : '';
    const name = status.name ? `${status.name} (${deploymentId})` : deploymentId;
    return [`deployment ${name}: ${status.currentState ?? 'state not reported'}${pods}`];
  } catch (error) {
    if (!(error instanceof VendorError)) throw error;
    return [
      `could not read deployment ${deploymentId}: ${error.message}`,
      ...(await suggestions(client, deploymentId)),
    ];
  }
}

async function suggestions(client: ArcgisClient, deploymentId: string): Promise<string[]> {
  let deployments: Awaited<ReturnType<ArcgisClient['deployments']>>;
  try {
    deployments = await client.deployments();
  } catch {
    return []; // the first line already says what went wrong
  }
  if (deployments.some((deployment) => deployment.deploymentId === deploymentId)) return [];
  const close = similarDeployments(deploymentId, deployments);
  if (close.length === 0)
    return [`no deployment of the ${deployments.length} on this site has a similar id or name`];
  const names = close.map((d) => (d.name ? `${d.deploymentId} (${d.name})` : d.deploymentId));
  return [`did you mean ${names.join(' or ')}?`];
}
