import type { Job, Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Policy } from '../requests/policy.js';
import type { RequestStore } from '../requests/store.js';
import { FINAL_STATES, type OpsRequest } from '../requests/types.js';
import { Outbox } from '../slack/outbox.js';
import { requesterDm } from '../slack/requester-dm.js';
import { type Queues, RUN_JOB } from './queues.js';
import type { EndReason } from './run/processor.js';

/**
 * The reconciler: the periodic `reconcile` job (one at a time across all workers) that makes sure
 * no request is left short of an end, however its processes died.
 * 1. Approved requests whose run job was never queued (a web process died between recording the
 *    approval and adding the job) get it, and their root update.
 * 2. Every open request (the store's open-requests index, scored by when to look next) is looked
 *    at when it is due: a pending one past its expiry whose expiry job was lost is expired; an
 *    approved or running one whose run job is missing, failed or completed without ending it is
 *    resumed (or ended, when the job used up its crash attempts); a running one past its deadline
 *    that no step is taking is ended. Healthy ones are looked at again a few minutes later.
 */

/** How often a healthy open request is looked at again. */
const LOOK_AGAIN_MS = 2 * 60_000;
/** Open requests looked at per reconcile run (one run every 15 s by default), in parallel groups. */
const BATCH = 1_000;
const PARALLEL = 25;

/** Job states in which a run job's next step will come by itself. */
const STEP_COMING = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

/** One run job per request: its id is derived from the request id, so a second add is a no-op. */
export function runJobId(requestId: string): string {
  return `run-${requestId}`;
}

/** Queues a request's run job. Idempotent: the job id is derived from the request id. */
export async function enqueueRun(actions: Queue, requestId: string): Promise<void> {
  await actions.add(RUN_JOB, { requestId }, { jobId: runJobId(requestId) });
}

export interface ReconcileDeps {
  store: RequestStore;
  outbox: Outbox;
  queues: Queues;
  /** Each request's own policy, its action on its target (the grace comes from its poll interval). */
  policy: Pick<Policy, 'effective'>;
  log: Logger;
  /** Ends a run its steps will not end (run/processor.ts createRunEnder). */
  end(requestId: string, why: EndReason): Promise<void>;
  /** Expires a pending request whose approval window has closed (expire-request.ts). */
  expire(requestId: string): Promise<void>;
}

export function createReconcileProcessor(deps: ReconcileDeps) {
  return async (): Promise<void> => {
    await enqueueMissing(deps);
    const now = Date.now();
    const due = await deps.store.dueOpen(now, BATCH);
    for (let i = 0; i < due.length; i += PARALLEL) {
      await Promise.all(
        due
          .slice(i, i + PARALLEL)
          .map((id) =>
            look(deps, id, now).catch((error: Error) =>
              deps.log.warn(
                { err: error.message, requestId: id },
                'could not reconcile a request; will look again',
              ),
            ),
          ),
      );
    }
  };
}

async function enqueueMissing(deps: ReconcileDeps): Promise<void> {
  for (const requestId of await deps.store.pendingEnqueues()) {
    const request = await deps.store.get(requestId);
    if (request?.state === 'approved') {
      deps.log.warn(
        { requestId, correlationId: request.correlationId },
        'approved request had no run job; queueing it now',
      );
      await enqueueRun(deps.queues.actions, requestId);
      // The approval's own root update and DM may have been lost with it (same keys: queued once).
      await deps.outbox.push(requestId, Outbox.root(request.version), ...requesterDm(request));
    }
    await deps.store.enqueued(requestId);
  }
}

async function look(deps: ReconcileDeps, id: string, now: number): Promise<void> {
  const request = await deps.store.get(id);
  if (!request || FINAL_STATES.has(request.state)) return deps.store.closed(id);
  if (request.state === 'pending') {
    if (now < request.expiresAt) return deps.store.nextCheck(id, request.expiresAt);
    deps.log.warn({ requestId: id }, 'pending request outlived its expiry job; expiring it now');
    await deps.expire(id);
    return deps.store.nextCheck(id, now + LOOK_AGAIN_MS);
  }
  const job = await deps.queues.actions.getJob(runJobId(id));
  const jobState = job ? await job.getState() : 'missing';
  const grace = deadlineGrace(deps, request);
  if (request.state === 'running' && request.deadlineAt !== undefined && now > request.deadlineAt) {
    // Past its deadline, a run is not resumed: it is ended, unless a step will end it itself (one
    // running now, or one asleep that wakes within the grace period, since steps check it).
    const stepDue = jobState === 'active' || (STEP_COMING.has(jobState) && now <= request.deadlineAt + grace);
    if (!stepDue) return deps.end(id, 'deadline');
  }
  await resume(deps, request, job, jobState);
  const next = now + LOOK_AGAIN_MS;
  await deps.store.nextCheck(id, request.deadlineAt ? Math.min(next, request.deadlineAt + grace) : next);
}

/** Puts a request's run job back to work if it is missing or finished while the request is not. */
async function resume(
  deps: ReconcileDeps,
  request: OpsRequest,
  job: Job | undefined,
  jobState: string,
): Promise<void> {
  const log = deps.log.child({ requestId: request.id, correlationId: request.correlationId });
  switch (jobState) {
    case 'missing':
    case 'unknown':
      log.warn({ state: request.state }, 'run job is missing; queueing it again');
      return enqueueRun(deps.queues.actions, request.id);
    case 'completed':
      log.warn({ state: request.state }, 'run job completed without ending its request; resuming it');
      return job!.retry('completed');
    case 'failed': {
      if (job!.attemptsMade >= (job!.opts.attempts ?? 1)) {
        log.warn({ reason: job!.failedReason }, 'run job used up its attempts; ending its request');
        return deps.end(request.id, 'gave-up');
      }
      // Not a crash inside a step (those use attempts up): a stall or a lost worker. Resume.
      log.warn({ reason: job!.failedReason }, 'run job failed without using up its attempts; resuming it');
      return job!.retry('failed');
    }
    default:
      // Waiting, delayed (asleep between polls) or active: its steps are on it.
      return;
  }
}

/**
 * How long past its deadline a running request whose job sleeps may go before the reconciler ends
 * it: a healthy run ends itself at its first step after the deadline (its polls, and their
 * retries, wake up at the deadline at the latest).
 */
function deadlineGrace(deps: ReconcileDeps, request: OpsRequest): number {
  const timing = deps.policy.effective(request.actionId, request.target)?.timing;
  return Math.max(2 * (timing?.pollIntervalMs ?? 30_000), 60_000);
}
