import { instantOf } from '../instant.js';
import type { ActionProgress } from '../types.js';
import type { SubJob, WorkspaceJob } from './schemas.js';

/**
 * What a Workspace job's status means for opsbot. Top-level statuses are WAITING, RUNNING,
 * SUCCESS and FAILED (doc); anything else is a status added after this was written, so the job
 * is followed on (until the deadline) with a warning rather than guessed at.
 */

export type JobOutcome = 'running' | 'succeeded' | 'failed' | 'unknown';

export function jobOutcome(status: string): JobOutcome {
  switch (status.toUpperCase()) {
    case 'WAITING':
    case 'RUNNING':
      return 'running';
    case 'SUCCESS':
      return 'succeeded';
    case 'FAILED':
      return 'failed';
    default:
      return 'unknown';
  }
}

/** State kept between polls (stored durably by the job runner). */
export interface ReinstallMemo {
  jobId: string;
  serverId: string;
  /** Huawei's X-Request-Id of the reinstall call, for the audit. */
  requestId: string | null;
  [key: string]: string | null;
}

const MAX_SUB_JOBS_SHOWN = 3;

function resourceOf(sub: SubJob): string | undefined {
  return sub.job_resource_info?.resource_name ?? sub.job_resource_info?.resource_id ?? undefined;
}

/**
 * Job and sub-job statuses in words (doc: WAITING, RUNNING, SUCCESS, FAILED; sub-jobs add
 * ABNORMAL, ROLLBACK, ABORTING). A status not listed is shown as Huawei gave it.
 */
const STATUS_WORDS: Record<string, string> = {
  WAITING: 'waiting',
  RUNNING: 'running',
  SUCCESS: 'finished',
  FAILED: 'failed',
  ABNORMAL: 'abnormal',
  ROLLBACK: 'rolling back',
  ABORTING: 'aborting',
};

function statusWords(status: string | undefined | null): string {
  if (!status) return 'status unknown';
  return STATUS_WORDS[status.toUpperCase()] ?? status;
}

/** One short, stable line: "sub-job REINSTALL_OS: running" (per sub-job, at most three). */
function detailOf(job: WorkspaceJob): string {
  const subs = job.sub_jobs ?? [];
  if (subs.length === 0) return `job ${job.job_type ?? 'REINSTALL_OS'}: ${statusWords(job.status)}`;
  const shown = subs
    .slice(0, MAX_SUB_JOBS_SHOWN)
    .map((sub) => `sub-job ${sub.job_type ?? job.job_type ?? 'job'}: ${statusWords(sub.status)}`);
  const more = subs.length > MAX_SUB_JOBS_SHOWN ? ` (+${subs.length - MAX_SUB_JOBS_SHOWN} more)` : '';
  return `${shown.join('; ')}${more}`;
}

/** The sub-jobs' own error fields, one line each: "REINSTALL_OS on APS-1: WKS.0021 — message". */
function failureLines(job: WorkspaceJob): string[] {
  const lines = (job.sub_jobs ?? [])
    .filter((sub) => sub.error_code || sub.error_message)
    .map((sub) => {
      const on = resourceOf(sub) ? ` on ${resourceOf(sub)}` : '';
      const code = sub.error_code ?? 'no error code';
      return `${sub.job_type ?? job.job_type ?? 'job'}${on}: ${code}${sub.error_message ? ` — ${sub.error_message}` : ''}`;
    });
  const id = job.id ? ` ${job.id}` : '';
  return lines.length > 0 ? lines : [`job${id} ended ${job.status} without an error message from Huawei`];
}

export function jobProgress(job: WorkspaceJob, memo: ReinstallMemo): ActionProgress {
  const outcome = jobOutcome(job.status);
  const base = { vendorJobId: memo.jobId, status: job.status, detail: detailOf(job), memo };
  switch (outcome) {
    case 'running':
      return { ...base, outcome: 'running' };
    case 'succeeded': {
      const sub = job.sub_jobs?.[0];
      const name = (sub && resourceOf(sub)) ?? memo.serverId;
      const reinstalled = `server ${name} reinstalled from its image`;
      const span =
        job.begin_time && job.end_time
          ? [' (', instantOf(job.begin_time), ' → ', instantOf(job.end_time), ')']
          : [];
      return { ...base, outcome: 'succeeded', result: [[reinstalled, ...span]] };
    }
    case 'failed':
      return { ...base, outcome: 'failed', result: failureLines(job) };
    case 'unknown':
      return {
        ...base,
        outcome: 'running',
        detail: `${base.detail} · unknown job status "${job.status}": still following until the deadline`,
      };
  }
}
