import type { Job } from 'bullmq';
import { FINAL_STATES, type OpsRequest } from '../../requests/types.js';
import type { DeliverNow } from '../deliver-slack.js';
import { SLEEPING } from '../queues.js';
import { cancel, poll, STOPPED_WAITING } from './follow.js';
import { type DeferredAudit, outcomeState, type RunDeps, type Sleep, Step, SUPERSEDED } from './step.js';
import { recoverSubmission, submit } from './submit.js';

/**
 * The action state machine. Its state lives in the request record in Redis (phase, progress,
 * counters, the fencing token), so any worker can take the next step after a crash; the job
 * itself carries only the request id. Each step: read the record, do one thing, record the result
 * (fenced), then either finish or sleep in Redis (moveToDelayed) without holding a worker slot.
 *
 *   queued ──start()──▶ polling ──poll()…──▶ done
 *      └─ crash during the mutating call ─▶ its fate is unknown: never sent again
 */

export interface RunJobData {
  requestId: string;
}

export type { RunDeps };

/**
 * The run job's processor. A step queues its Slack messages in the request's outbox and delivers
 * them itself before it sleeps or ends (`deliver`), so no delivery job is needed per message; a
 * step that crashes is retried by BullMQ, and the retry delivers whatever the crash left queued.
 */
export function createRunProcessor(deps: RunDeps, deliver: DeliverNow) {
  return async (job: Job<RunJobData>, token?: string): Promise<void> => {
    const { requestId } = job.data;
    const found = await deps.store.get(requestId);
    if (!found) return;
    // Deliver only when this step queued something, or when it is a retry (a crashed attempt may
    // have left messages queued).
    let toDeliver = job.attemptsMade > 0 || job.stalledCounter > 0;
    const queued = async () => {
      toDeliver = true;
    };
    const deliverQueued = async () => {
      if (toDeliver) await deliver(requestId, found.channel);
      toDeliver = false;
    };
    const sleep = async (ms: number, cancelAwaits?: boolean): Promise<never> => {
      await deliverQueued();
      // A cancel asked while this step ran found the job active, so it could not bring it forward:
      // do not sleep through it. (A step whose last write answered the question passes it in.)
      const cancelled = ms > 0 && (cancelAwaits ?? (await deps.store.cancelAwaitsWorker(requestId)));
      const wait = cancelled ? 0 : ms;
      await job.moveToDelayed(Date.now() + Math.max(0, wait), token);
      throw SLEEPING;
    };
    // Routine vendor reads of this step, for its next write to record (see auditVendorCall).
    const deferredAudit: DeferredAudit = [];
    try {
      await advance(found, sleep, queued, deferredAudit);
    } catch (error) {
      if (error === SUPERSEDED) {
        // This worker paused longer than its job's lock (or the run was ended meanwhile): another
        // worker owns the request now and will say what happens. Nothing more to do here.
        deps.log.warn({ requestId }, 'another worker took over or ended this run; this step stops');
        return;
      }
      // A failing step still delivers what it queued (a sleeping one already has).
      if (error !== SLEEPING) await deliverQueued().catch(() => undefined);
      throw error;
    } finally {
      // Reads no write of the step took with it (it failed, or ended by a state change).
      for (const event of deferredAudit.splice(0)) {
        await deps.store.audit(event, requestId, false).catch((error: Error) => {
          deps.log.warn(
            { err: error.message, requestId },
            'could not record a vendor call in the audit trail',
          );
        });
      }
    }
    await deliverQueued();
  };

  async function advance(
    initial: OpsRequest,
    sleep: Sleep,
    queued: () => Promise<void>,
    deferredAudit: DeferredAudit,
  ): Promise<void> {
    let request = initial;
    // The step's log lines and vendor calls name the request (its scope goes with every call).
    const log = deps.log.child({
      requestId: request.id,
      correlationId: request.correlationId,
      action: request.actionId,
    });
    const step = new Step(deps, log, sleep, queued, request, { requestId: request.id, deferredAudit });

    if (request.state === 'approved') {
      const now = Date.now();
      const started = {
        phase: 'queued' as const,
        startedAt: now,
        deadlineAt: now + step.timing(request).deadlineMs,
      };
      const result = await deps.store.transition(
        request.id,
        ['approved'],
        'running',
        { kind: 'running', text: 'started' },
        started,
        { fence: step.fence },
      );
      if (!result.ok && result.state === 'fenced') throw SUPERSEDED;
      // The script bumps the version and the token by one; anything else means someone else
      // moved it: read it.
      request = result.ok
        ? { ...request, ...started, state: 'running', version: request.version + 1, fence: request.fence + 1 }
        : (await deps.store.get(request.id))!;
      step.adopt(request);
    }
    if (FINAL_STATES.has(request.state)) {
      // A crash between recording the end and queueing its messages: queue them (idempotent).
      if (request.phase !== 'done') await step.announceEnd(request);
      return;
    }
    if (request.state !== 'running') return;

    switch (request.phase) {
      case 'queued':
        if (request.cancelRequestedBy) {
          return step.finish(request, 'cancelled', {
            outcome: 'cancelled before anything was sent to the vendor',
            cancelledBy: request.cancelRequestedBy,
          });
        }
        if (Date.now() >= (request.deadlineAt ?? Number.POSITIVE_INFINITY)) {
          return step.finish(request, 'timed_out', { outcome: NOT_STARTED_BY_DEADLINE });
        }
        return submit(step, request);
      case 'submitting':
        return recoverSubmission(step, request, 'opsbot stopped while sending the request to the vendor');
      case 'polling':
        if (request.cancelRequestedBy && request.vendorCancel === undefined) return cancel(step, request);
        return poll(step, request);
      case 'done':
        return;
    }
  }
}

const NOT_STARTED_BY_DEADLINE =
  'it could not start before its deadline (the resource stayed busy, or the vendor unreachable); nothing was sent to the vendor';

/** Why a run is ended from outside its own steps (createRunEnder). */
export type EndReason = 'gave-up' | 'deadline';

/**
 * Ends a run that its own steps will not end: its job kept crashing inside a step (a bug, not a
 * vendor fault) and used up its attempts, or its deadline passed while no step ran (its workers
 * kept dying, or the job was lost). It ends visibly, from wherever it stands, in one write that
 * also frees its lock; a step that wakes up later finds it ended and stops.
 */
export function createRunEnder(deps: RunDeps) {
  return async (requestId: string, why: EndReason): Promise<void> => {
    const request = await deps.store.get(requestId);
    if (!request || FINAL_STATES.has(request.state)) return;
    const log = deps.log.child({ requestId, correlationId: request.correlationId, action: request.actionId });
    const step = new Step(
      deps,
      log,
      () => Promise.reject(new Error('an ender does not sleep')),
      () => deps.outbox.kick(requestId),
      request,
    );
    const sent = request.phase === 'submitting' || request.phase === 'polling';
    const { state, outcome } = endOf(request, why, sent);
    log.warn({ why, phase: request.phase }, 'ending a run its steps did not end');
    await step.finish(request, state, outcome ? { outcome } : {}, undefined, {
      from: ['approved', 'running'],
      fenced: false,
    });
  };
}

function endOf(request: OpsRequest, why: EndReason, sent: boolean) {
  if (why === 'gave-up') {
    return {
      state: sent ? ('unknown' as const) : ('failed' as const),
      outcome:
        'opsbot could not go on following this action (an internal error; the details are in its logs)',
    };
  }
  if (request.phase === 'submitting') {
    return {
      state: 'unknown' as const,
      outcome:
        'opsbot stopped while sending the request to the vendor and could not look again before the deadline, so it may or may not have reached the vendor. Check the vendor before trying again.',
    };
  }
  if (request.phase === 'polling' && request.progress) {
    const last = request.progress;
    // The vendor had already said how it ended (a crash before the end was written).
    if (last.outcome !== 'running') return { state: outcomeState(last), outcome: undefined };
    return { state: 'timed_out' as const, outcome: STOPPED_WAITING };
  }
  return { state: 'timed_out' as const, outcome: NOT_STARTED_BY_DEADLINE };
}
