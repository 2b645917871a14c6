import { randomUUID } from 'node:crypto';

/**
 * The simulator's Job resources (`{admin}/jobs/{jobId}`, 10.9.1+). A job advances one step per
 * read, not by the wall clock, so tests are deterministic and fast: it answers SUBMITTED for
 * `polls.SUBMITTED` reads, EXECUTING for `polls.EXECUTING` reads (then CANCELLING when it ends
 * CANCELLED), then its outcome forever. Reads listed in `unavailableOnPolls` answer UNAVAILABLE
 * and do not advance the job, as the real job store does when it cannot answer for a moment.
 */

export type JobOutcome = 'COMPLETED' | 'FAILED' | 'CANCELLED';

export interface JobScript {
  outcome?: JobOutcome;
  /** Reads answered with each running status before the job moves on. */
  polls?: { SUBMITTED?: number; EXECUTING?: number; CANCELLING?: number };
  /** 1-based read numbers that answer UNAVAILABLE, e.g. [2] for one blip on the second poll. */
  unavailableOnPolls?: number[];
  /** The job's `result` once it ends; default: a realistic one for the outcome. */
  result?: unknown;
}

/** Reads per running status when nothing says otherwise: a refresh takes four polls. */
export const DEFAULT_POLLS = { SUBMITTED: 1, EXECUTING: 2, CANCELLING: 1 } as const;

export interface SimJob {
  jobid: string;
  deploymentId: string;
  username: string;
  starttime: number;
  updatedtime: number;
  endtime: number;
  /** Reads so far. */
  reads: number;
  /** Steps taken (reads that did not answer UNAVAILABLE). */
  steps: number;
  outcome: JobOutcome;
  submitted: number;
  executing: number;
  cancelling: number;
  unavailableOnPolls: readonly number[];
  result: unknown;
}

export function createJob(deploymentId: string, username: string, script: JobScript, now: number): SimJob {
  const outcome = script.outcome ?? 'COMPLETED';
  return {
    jobid: `j${randomUUID().replaceAll('-', '')}`,
    deploymentId,
    username,
    starttime: now,
    updatedtime: now,
    endtime: 0,
    reads: 0,
    steps: 0,
    outcome,
    submitted: script.polls?.SUBMITTED ?? DEFAULT_POLLS.SUBMITTED,
    executing: script.polls?.EXECUTING ?? DEFAULT_POLLS.EXECUTING,
    cancelling: outcome === 'CANCELLED' ? (script.polls?.CANCELLING ?? DEFAULT_POLLS.CANCELLING) : 0,
    unavailableOnPolls: script.unavailableOnPolls ?? [],
    result: script.result ?? defaultResult(outcome, deploymentId),
  };
}

/** Where the job stands after `steps` steps, without reading it. */
export function jobStatus(job: SimJob): string {
  let step = job.steps;
  if (step < job.submitted) return 'SUBMITTED';
  step -= job.submitted;
  if (step < job.executing) return 'EXECUTING';
  step -= job.executing;
  if (step < job.cancelling) return 'CANCELLING';
  return job.outcome;
}

export function isJobOver(job: SimJob): boolean {
  return jobStatus(job) === job.outcome;
}

/** One read of the job resource: advances it (unless this read is UNAVAILABLE) and answers its JSON. */
export function readJob(job: SimJob, now: number, operationURI: string): Record<string, unknown> {
  job.reads += 1;
  const unavailable = job.unavailableOnPolls.includes(job.reads);
  const status = unavailable ? 'UNAVAILABLE' : jobStatus(job);
  if (!unavailable) {
    job.steps += 1;
    job.updatedtime = now;
    if (status === job.outcome && job.endtime === 0) job.endtime = now;
  }
  const over = !unavailable && status === job.outcome;
  return {
    jobid: job.jobid,
    status,
    starttime: job.starttime,
    endtime: over ? job.endtime : 0,
    updatedtime: job.updatedtime,
    operationURI,
    username: job.username,
    ...(over ? { result: job.result } : {}),
  };
}

function defaultResult(outcome: JobOutcome, deploymentId: string): unknown {
  if (outcome === 'COMPLETED') {
    return { status: 'success', messages: [`Deployment '${deploymentId}' was refreshed successfully.`] };
  }
  if (outcome === 'FAILED') {
    return {
      status: 'failed',
      messages: [`Failed to refresh deployment '${deploymentId}'.`],
      error: {
        code: 500,
        message: 'The pods of the deployment did not become ready within 600 seconds.',
        details: ['Readiness probe failed: HTTP probe failed with statuscode: 503'],
      },
    };
  }
  return { status: 'cancelled', messages: [`The refresh of deployment '${deploymentId}' was cancelled.`] };
}
