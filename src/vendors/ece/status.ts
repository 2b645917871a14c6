import { clip } from './errors.js';
import type { PlanAttempt, PlanStep } from './schemas.js';

/**
 * Reading plan attempts the way Elastic's own tracker does (cloud-sdk-go `pkg/plan`,
 * `GetStepName`): a finished attempt ends with the step `plan-completed`; `status: "error"` on
 * that step (or on any step) means the attempt failed, and the reason is the last `info_log`
 * message of that step.
 */

export const PLAN_COMPLETED = 'plan-completed';

export interface AttemptVerdict {
  outcome: 'succeeded' | 'failed';
  /** For a failure: ECE's own words, then the step it failed at and the failure type. */
  reason?: string;
  failedStep?: string;
  failureType?: string;
}

export function newestStep(attempt: PlanAttempt): PlanStep | undefined {
  return attempt.plan_attempt_log?.at(-1);
}

/** The short line posted in the thread when it changes: "step `rolling-restart` in progress". */
export function stepLine(step: PlanStep | undefined): string {
  return step ? `step \`${step.step_id}\` ${stepState(step)}` : 'plan queued, no step yet';
}

/**
 * A step's `stage` (starting, in_progress, completed) and `status` (pending, success, warning,
 * error) in words (doc: `ClusterPlanStepInfo`). A pair the doc does not list is shown as ECE gave it.
 */
function stepState({ stage, status }: PlanStep): string {
  if (status === 'error') return 'failed';
  if (stage === 'starting') return 'starting';
  if (stage === 'in_progress') return 'in progress';
  if (stage === 'completed' && status === 'warning') return 'finished with warnings';
  if (stage === 'completed') return 'finished';
  return `stage ${stage}, status ${status}`;
}

/** `attempt-0000000003`, or its id when ECE gives no name. */
export function attemptLabel(attempt: PlanAttempt): string {
  return attempt.plan_attempt_name ?? attempt.plan_attempt_id ?? 'plan attempt';
}

/**
 * Judges a finished attempt. `planHealthy` is `plan_info.healthy`, which speaks about the last
 * attempt, so pass it only when `attempt` is that last attempt (`current`).
 */
export function judgeAttempt(attempt: PlanAttempt, planHealthy?: boolean): AttemptVerdict {
  const steps = attempt.plan_attempt_log ?? [];
  const last = steps.at(-1);
  const errorStep = steps.find((step) => step.status === 'error');
  // Where it broke, for the message: the first error step other than `plan-completed` (which
  // only repeats the reason), or the step a cancel cut short (ECE leaves it `pending`).
  const brokenAt =
    steps.find((step) => step.status === 'error' && step.step_id !== PLAN_COMPLETED) ??
    steps.findLast((step) => step.step_id !== PLAN_COMPLETED && step.status === 'pending');
  const failureType =
    attempt.error?.failure_type ??
    steps
      .flatMap((step) => (step.status === 'error' ? (step.info_log ?? []) : []))
      .findLast((entry) => entry.failure_type)?.failure_type;
  const failed = (reason: string | undefined): AttemptVerdict => ({
    outcome: 'failed',
    reason: clip(reason ?? attempt.error?.message ?? unknownReason),
    ...(brokenAt ? { failedStep: brokenAt.step_id } : {}),
    ...(failureType ? { failureType } : {}),
  });

  if (last?.status === 'error') return failed(lastMessage(last));
  if (errorStep) return failed(lastMessage(errorStep));
  if (attempt.error) return failed(attempt.error.message);
  if (attempt.healthy === false) return failed('ECE marked the plan attempt unhealthy');
  if (planHealthy === false) return failed("ECE marked the resource's last plan attempt unhealthy");
  return { outcome: 'succeeded' };
}

const unknownReason = 'plan failed due to an unknown error (ECE logged no message)';

function lastMessage(step: PlanStep): string | undefined {
  return step.info_log?.at(-1)?.message;
}

/** Whole seconds between the attempt's start and end, when ECE gives both. */
export function attemptSeconds(attempt: PlanAttempt): number | undefined {
  const start = Date.parse(attempt.attempt_start_time ?? '');
  const end = Date.parse(attempt.attempt_end_time ?? '');
  return Number.isNaN(start) || Number.isNaN(end) ? undefined : Math.max(0, Math.round((end - start) / 1000));
}
