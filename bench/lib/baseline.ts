/** What the pipeline baseline (bench/children/baseline-worker.ts) and its driver share. */

export const BASELINE_QUEUE = 'baseline-actions';

export interface BaselineJob {
  requestId: string;
  deploymentId: string;
  channel: string;
  rootTs: string;
  phase: 'submit' | 'poll';
  jobId?: string;
  status?: string;
}
