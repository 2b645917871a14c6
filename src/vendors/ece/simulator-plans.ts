import { randomBytes, randomUUID } from 'node:crypto';
import { type EceKind, KINDS } from './schemas.js';

/**
 * The simulated state of ECE deployments: resources and their plan attempts. Plans progress by
 * time (`stepMs` per step) and are computed when read, so 10,000 plans in flight cost no timers.
 * A new plan stays queued and invisible for its first `hiddenReads` reads, as a real restart's plan
 * appears only once ECE's constructor picks it up; its clock starts when it becomes visible.
 */

export type PlanEnd = 'success' | 'failure' | 'cancelled';

export interface SimAttempt {
  id: string;
  name: string;
  action: string;
  startedAt: number;
  stepMs: number;
  /** Step ids before `plan-completed`. */
  steps: string[];
  /** Index of the step that fails, for a failing plan. */
  failAt: number | undefined;
  /** Reads left during which the plan is queued: invisible, and its clock not started. */
  hiddenReads: number;
  queued: boolean;
  endedAt?: number;
  end?: PlanEnd;
}

export interface SimResource {
  kind: EceKind;
  refId: string;
  id: string;
  stopped: boolean;
  /** Attempts made so far, for their names (`attempt-0000000003`). */
  attempts: number;
  pending: SimAttempt | undefined;
  /** The last successful attempt. */
  current: SimAttempt | undefined;
  /** Every finished attempt, oldest first (capped). */
  history: SimAttempt[];
}

export interface SimDeployment {
  id: string;
  name: string;
  resources: SimResource[];
  planOutcome: 'success' | 'failure' | undefined;
  refuseRestart: 'elevated-permissions' | 'no-longer-exists' | undefined;
  restartWarnings: Array<{ code: string; message?: string }>;
  hiddenReads: number | undefined;
}

export interface PlanTiming {
  stepMs: number;
  hiddenReads: number;
  fail: boolean;
}

const HISTORY_CAP = 20;
const PLAN_COMPLETED = 'plan-completed';
/** Every plan here has four steps before `plan-completed`; a failing plan fails at the third. */
const RESTART_STEPS = ['plan-started', 'validate-plan', 'rolling-restart', 'wait-until-healthy'];
const START_STEPS = ['plan-started', 'validate-plan', 'start-instances', 'wait-until-healthy'];
const CHANGE_STEPS = ['plan-started', 'validate-plan', 'apply-configuration', 'wait-until-healthy'];

const STEP_MESSAGES: Record<string, string> = {
  'plan-started': 'Plan attempt started',
  'validate-plan': 'Plan validated',
  'rolling-restart': 'Restarting instances [instance-0000000000, instance-0000000001] one at a time',
  'start-instances': 'Starting instances [instance-0000000000]',
  'apply-configuration': 'Applying the new configuration to [instance-0000000000]',
  'wait-until-healthy': 'All instances are running and healthy',
};
const FAILURE_TYPE = 'InstanceFailure:RestartTimeout';

export function hexId(): string {
  return randomBytes(16).toString('hex');
}

export function newResource(kind: EceKind, refId: string, stopped: boolean, now: number): SimResource {
  const created: SimAttempt = {
    id: randomUUID(),
    name: 'attempt-0000000000',
    action: `${kind}.create-cluster`,
    startedAt: now - 60_000,
    stepMs: 10_000,
    steps: CHANGE_STEPS,
    failAt: undefined,
    hiddenReads: 0,
    queued: false,
    endedAt: now - 60_000 + CHANGE_STEPS.length * 10_000,
    end: 'success',
  };
  return {
    kind,
    refId,
    id: hexId(),
    stopped,
    attempts: 1,
    pending: undefined,
    current: created,
    history: [created],
  };
}

/** `_main` is the only resource of its kind; ECE's answer when there are several is a guess. */
export function findResource(
  deployment: SimDeployment,
  kind: string,
  refId: string,
): { resource: SimResource } | { missing: string } {
  if (!(KINDS as readonly string[]).includes(kind)) return { missing: `Unknown resource kind [${kind}]` };
  const ofKind = deployment.resources.filter((resource) => resource.kind === kind);
  if (refId === '_main') {
    if (ofKind.length === 1) return { resource: ofKind[0]! };
    if (ofKind.length === 0) return { missing: `The deployment has no [${kind}] resource` };
    return {
      missing: `The deployment has ${ofKind.length} [${kind}] resources (${ofKind.map((r) => r.refId).join(', ')}); '_main' is ambiguous, use a RefId`,
    };
  }
  const resource = ofKind.find((candidate) => candidate.refId === refId);
  return resource ? { resource } : { missing: `The Resource specified by [${refId}] cannot be found` };
}

/** Starts a plan attempt: a restart (a start for a stopped resource) or someone else's change. */
export function beginPlan(
  resource: SimResource,
  now: number,
  timing: PlanTiming,
  change = false,
): SimAttempt {
  const steps = change ? CHANGE_STEPS : resource.stopped ? START_STEPS : RESTART_STEPS;
  const attempt: SimAttempt = {
    id: randomUUID(),
    name: `attempt-${String(resource.attempts++).padStart(10, '0')}`,
    action: change ? `${resource.kind}.plan-update` : `${resource.kind}.restart`,
    startedAt: now,
    stepMs: timing.stepMs,
    steps,
    failAt: timing.fail ? 2 : undefined,
    hiddenReads: timing.hiddenReads,
    queued: timing.hiddenReads > 0,
  };
  resource.pending = attempt;
  return attempt;
}

/** Moves a pending plan whose time is up into history (and `current` when it succeeded). */
export function settle(resource: SimResource, now: number): void {
  const pending = resource.pending;
  if (!pending || pending.queued) return;
  const stepsRun = pending.failAt === undefined ? pending.steps.length : pending.failAt + 1;
  const endsAt = pending.startedAt + stepsRun * pending.stepMs;
  if (now < endsAt) return;
  finish(resource, pending, pending.failAt === undefined ? 'success' : 'failure', endsAt);
}

export function cancelPending(resource: SimResource, now: number): void {
  if (resource.pending) finish(resource, resource.pending, 'cancelled', now);
}

function finish(resource: SimResource, attempt: SimAttempt, end: PlanEnd, at: number): void {
  attempt.end = end;
  attempt.endedAt = at;
  resource.pending = undefined;
  resource.history.push(attempt);
  if (resource.history.length > HISTORY_CAP)
    resource.history.splice(0, resource.history.length - HISTORY_CAP);
  if (end === 'success') {
    resource.current = attempt;
    resource.stopped = false;
  }
}

/** The resource as `GET /deployments/{id}/{kind}/{refId}` shows it. Counts a hidden plan's reads. */
export function renderResource(
  deployment: SimDeployment,
  resource: SimResource,
  now: number,
  view: { plans: boolean; logs: boolean; history: boolean },
) {
  settle(resource, now);
  let pending = resource.pending;
  if (pending && pending.hiddenReads > 0) {
    pending.hiddenReads -= 1;
    pending = undefined;
  } else if (pending?.queued) {
    pending.queued = false;
    pending.startedAt = now;
  }
  const lastEnd = resource.history.at(-1)?.end;
  const planHealthy = lastEnd === undefined || lastEnd === 'success';
  const status = pending
    ? resource.stopped
      ? 'initializing'
      : 'rebooting'
    : resource.stopped
      ? 'stopped'
      : 'started';
  const render = (attempt: SimAttempt) => renderAttempt(resource, attempt, now, view.logs);
  return {
    id: resource.id,
    ref_id: resource.refId,
    region: 'ece-region',
    elasticsearch_cluster_ref_id: 'main-elasticsearch',
    info: {
      cluster_id: resource.id,
      cluster_name: deployment.name,
      deployment_id: deployment.id,
      status,
      healthy: !resource.stopped && planHealthy,
      plan_info: {
        healthy: planHealthy,
        ...(view.plans && resource.current ? { current: render(resource.current) } : {}),
        ...(view.plans && pending ? { pending: render(pending) } : {}),
        history: view.plans && view.history ? resource.history.map(render) : [],
      },
    },
  };
}

function renderAttempt(resource: SimResource, attempt: SimAttempt, now: number, logs: boolean) {
  const failed = attempt.end === 'failure' || attempt.end === 'cancelled';
  return {
    plan_attempt_id: attempt.id,
    plan_attempt_name: attempt.name,
    attempt_start_time: iso(attempt.startedAt),
    ...(attempt.endedAt === undefined ? {} : { attempt_end_time: iso(attempt.endedAt), healthy: !failed }),
    plan: {
      cluster_topology: [{ size: { resource: 'memory', value: 1024 }, zone_count: 1 }],
      [resource.kind]: { version: '8.15.3' },
      transient: { plan_configuration: { cluster_reboot: 'forced' } },
    },
    source: { action: attempt.action, facilitator: 'api', date: iso(attempt.startedAt) },
    warnings: [],
    ...(failed && attempt.endedAt !== undefined
      ? {
          error: {
            timestamp: iso(attempt.endedAt),
            message: endMessage(attempt),
            details: {},
            failure_type: attempt.end === 'cancelled' ? 'PlanCancelled' : 'ClusterFailure:RestartTimeout',
          },
        }
      : {}),
    ...(logs ? { plan_attempt_log: renderSteps(attempt, now) } : {}),
  };
}

/** The steps run so far: finished ones, then the one running (or failed, or cut by a cancel). */
function renderSteps(attempt: SimAttempt, now: number) {
  const until = attempt.endedAt ?? now;
  const log: object[] = [];
  for (const [index, stepId] of attempt.steps.entries()) {
    const started = attempt.startedAt + index * attempt.stepMs;
    const done = started + attempt.stepMs;
    if (started > until || (attempt.end === 'cancelled' && started === until && index > 0)) break;
    if (index === attempt.failAt && attempt.end === 'failure') {
      log.push(step(stepId, started, done, 'error', 'completed', failureMessage(stepId), FAILURE_TYPE));
      break;
    }
    if (done > until) {
      // Running now, or cut short by a cancel: ECE leaves a cancelled plan's step `pending`.
      const stage = attempt.end === 'cancelled' ? 'completed' : 'in_progress';
      log.push(
        step(
          stepId,
          started,
          attempt.end ? until : undefined,
          'pending',
          stage,
          STEP_MESSAGES[stepId] ?? stepId,
        ),
      );
      break;
    }
    log.push(step(stepId, started, done, 'success', 'completed', STEP_MESSAGES[stepId] ?? stepId));
  }
  if (attempt.endedAt !== undefined) {
    const success = attempt.end === 'success';
    const failureType = success ? undefined : attempt.end === 'cancelled' ? 'PlanCancelled' : FAILURE_TYPE;
    log.push(
      step(
        PLAN_COMPLETED,
        attempt.endedAt,
        attempt.endedAt,
        success ? 'success' : 'error',
        'completed',
        endMessage(attempt),
        failureType,
      ),
    );
  }
  return log;
}

function step(
  stepId: string,
  started: number,
  completed: number | undefined,
  status: string,
  stage: string,
  message: string,
  failureType?: string,
) {
  return {
    step_id: stepId,
    started: iso(started),
    ...(completed === undefined
      ? {}
      : { completed: iso(completed), duration_in_millis: completed - started }),
    status,
    stage,
    info_log: [
      {
        timestamp: iso(completed ?? started),
        stage,
        message,
        ...(failureType ? { failure_type: failureType } : {}),
      },
    ],
  };
}

function endMessage(attempt: SimAttempt): string {
  if (attempt.end === 'success') return 'Plan successfully completed: [PlanSuccessful()]';
  if (attempt.end === 'cancelled') return 'The plan was cancelled before it completed';
  const stepId = attempt.steps[attempt.failAt ?? 0] ?? 'unknown';
  return `Unexpected error during step: [${stepId}]: [no.found.constructor.steps.TimeoutException: ${failureMessage(stepId)}]`;
}

function failureMessage(stepId: string): string {
  return `Timeout waiting for instance [instance-0000000001] to start during [${stepId}]`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
