import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { ResolvedActionPolicy } from '../config/load.js';
import { OpsError, toOpsError, VendorError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import { type ResourceLocks, resourceOf } from '../requests/resource-lock.js';
import type { RequestStore } from '../requests/store.js';
import { FINAL_STATES, type OpsRequest, type RequestState } from '../requests/types.js';
import { failureBroadcastText, finalReply, progressReply, section } from '../slack/blocks.js';
import { Outbox, type OutboxItem } from '../slack/outbox.js';
import type { VendorClients } from '../vendors/clients.js';
import type { CallScope } from '../vendors/http.js';
import { findActionById } from '../vendors/registry.js';
import type { ActionContext, ActionProgress } from '../vendors/types.js';
import type { DeliverNow } from './deliver-slack.js';
import { SLEEPING } from './queues.js';

/**
 * The action state machine. Its state lives in the request record in Redis (phase, progress,
 * counters), so any worker can take the next step after a crash; the job itself carries only the
 * request id. Each step: read the record, do one thing, record the result, then either finish or
 * sleep in Redis (moveToDelayed) without holding a worker slot.
 *
 *   queued ──start()──▶ polling ──poll()…──▶ done
 *      └─ crash while submitting ─▶ the call's fate is unknown: never sent again
 */

export interface RunJobData {
  requestId: string;
}

export interface RunDeps {
  store: RequestStore;
  outbox: Outbox;
  clients: VendorClients;
  locks: ResourceLocks;
  policies: ReadonlyMap<string, ResolvedActionPolicy>;
  log: Logger;
  metrics: Metrics;
}

/** A start call that surely never reached the vendor is tried again this many times. */
const MAX_SUBMIT_RETRIES = 5;
const MAX_FAULT_BACKOFF_MS = 60_000;

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
    const step = new Step(deps, log, sleep, queued, { requestId: request.id, deferredAudit });

    if (request.state === 'approved') {
      const now = Date.now();
      const policy = deps.policies.get(request.actionId);
      const started = {
        phase: 'queued' as const,
        startedAt: now,
        deadlineAt: now + (policy?.timing.deadlineMs ?? 30 * 60_000),
      };
      const result = await deps.store.transition(
        request.id,
        ['approved'],
        'running',
        { kind: 'running', text: 'started' },
        started,
      );
      // The script bumps the version by one; anything else means someone else moved it: read it.
      request = result.ok
        ? { ...request, ...started, state: 'running', version: request.version + 1 }
        : (await deps.store.get(request.id))!;
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
        return step.submit(request);
      case 'submitting':
        return step.recoverSubmission(request, 'opsbot stopped while sending the request to the vendor');
      case 'polling':
        if (request.cancelRequestedBy && request.vendorCancel === undefined) return step.cancel(request);
        return step.poll(request);
      case 'done':
        return;
    }
  }
}

/**
 * A run job that kept crashing inside a step (a bug, not a vendor fault) has used up its attempts:
 * the request must still end, visibly, rather than stay "running" forever.
 */
export function createRunGiveUp(deps: RunDeps) {
  return async (requestId: string): Promise<void> => {
    const request = await deps.store.get(requestId);
    if (!request || FINAL_STATES.has(request.state)) return;
    const outcome =
      'opsbot could not go on following this action (an internal error; the details are in its logs)';
    const step = new Step(
      deps,
      deps.log.child({ requestId, correlationId: request.correlationId, action: request.actionId }),
      () => Promise.reject(new Error('no sleep')),
      () => deps.outbox.kick(requestId),
    );
    const submitted = request.phase === 'submitting' || request.phase === 'polling';
    // Ends like any run (one write, the lock freed now rather than when its lease lapses), from
    // wherever the crashes left it.
    await step.finish(request, submitted ? 'unknown' : 'failed', { outcome }, undefined, [
      'approved',
      'running',
    ]);
  };
}

/** Sleeps the run job; `cancelAwaits`, when the caller's last write answered it, saves a read. */
type Sleep = (ms: number, cancelAwaits?: boolean) => Promise<never>;
type DeferredAudit = NonNullable<CallScope['deferredAudit']>;

class Step {
  constructor(
    private readonly deps: RunDeps,
    private readonly log: Logger,
    private readonly sleep: Sleep,
    /**
     * Called once Slack messages are queued in the outbox: the run job delivers them itself
     * before it sleeps or ends; the give-up path queues a delivery job.
     */
    private readonly queued: () => Promise<void>,
    /**
     * Whom the step's vendor calls are made for (none on the give-up path, which calls no vendor);
     * its routine reads so far wait in `deferredAudit` for the step's next write.
     */
    private readonly scope?: CallScope & { deferredAudit: DeferredAudit },
  ) {}

  /** Routine vendor reads made so far in this step, for its next write to record. */
  private takeDeferredAudit(): DeferredAudit {
    return this.scope?.deferredAudit.splice(0) ?? [];
  }

  private async post(request: OpsRequest, ...items: OutboxItem[]): Promise<void> {
    await this.deps.outbox.queue(request.id, ...items);
    await this.queued();
  }

  /**
   * Records a step's result, and queues its messages in the same write (so a crash can neither
   * lose them nor send them without the result). Answers whether a cancel awaits this worker.
   */
  private async record(
    request: OpsRequest,
    fields: Partial<OpsRequest>,
    event: { kind: string; text: string } | undefined,
    options: { items?: OutboxItem[]; renewLease?: boolean } = {},
  ): Promise<boolean> {
    const items = options.items ?? [];
    const { cancelAwaits } = await this.deps.store.patch(request.id, fields, event, {
      audit: this.takeDeferredAudit(),
      outbox: items.length > 0 ? this.deps.outbox.batch(request.id, ...items) : undefined,
      lease: options.renewLease ? { key: this.lockKey(request), ms: this.leaseMs(request) } : undefined,
    });
    if (items.length > 0) await this.queued();
    return cancelAwaits;
  }

  private context(request: OpsRequest): ActionContext<unknown> {
    return {
      client: this.deps.clients.get(request.vendor, request.target),
      target: request.target,
      log: this.log,
      scope: this.scope,
    };
  }

  private action(request: OpsRequest) {
    const found = findActionById(request.actionId);
    if (!found)
      throw new OpsError('action.unknown', `action ${request.actionId} is no longer known to this opsbot`);
    return found.action;
  }

  private timing(request: OpsRequest) {
    const policy = this.deps.policies.get(request.actionId);
    return policy?.timing ?? { ...this.action(request).timing };
  }

  /** The lock lease outlives the wait between two polls comfortably; the holder renews it each step. */
  private leaseMs(request: OpsRequest): number {
    const timing = this.timing(request);
    return Math.max(timing.pollIntervalMs, timing.firstPollDelayMs ?? 0) * 4 + 120_000;
  }

  private lockKey(request: OpsRequest): string {
    return this.deps.locks.key(request, resourceOf(this.action(request), request.args));
  }

  /** Another request holds the resource: wait for it (or refuse, per policy). */
  private async resourceBusy(request: OpsRequest, holder: string): Promise<void> {
    const other = await this.deps.store.get(holder);
    const who = other
      ? `\`${holder}\` (asked by <@${other.requester}>, started ${new Date(other.startedAt ?? other.createdAt).toISOString().slice(11, 16)} UTC)`
      : `\`${holder}\``;
    const resource = resourceOf(this.action(request), request.args);
    if (this.deps.policies.get(request.actionId)?.whenBusy === 'refuse') {
      return this.finish(request, 'failed', {
        outcome: `${resource} on ${request.vendor}/${request.target} is busy: ${who} holds it`,
      });
    }
    await this.post(request, {
      key: `waiting-for-${holder}`,
      kind: 'reply',
      message: section(`:lock: Waiting: ${who} is working on \`${resource}\`; this starts when it ends.`),
    });
    return this.sleep(2_000 + Math.random() * 3_000);
  }

  async submit(request: OpsRequest): Promise<void> {
    const action = this.action(request);
    // The resource's lock is taken and the call recorded in one write, before the call: if this
    // process dies during it, the next worker knows the call's fate is unknown and must not
    // blindly send it again. While another request holds the lock, nothing is recorded.
    const submittedAt = Date.now();
    const { lockHolder } = await this.deps.store.patch(
      request.id,
      { phase: 'submitting', submittedAt },
      { kind: 'vendor-call', text: `calling ${request.vendor}` },
      { lease: { key: this.lockKey(request), ms: this.leaseMs(request), required: true } },
    );
    if (lockHolder !== request.id) return this.resourceBusy(request, lockHolder!);
    let progress: ActionProgress;
    try {
      if (!action.start) throw new OpsError('action.no-start', `${action.id} cannot be started`);
      progress = await action.start(this.context(request), request.args);
    } catch (error) {
      const failure = toOpsError(error);
      if (failure.retryable && failure.delivery === 'not-sent' && request.faults < MAX_SUBMIT_RETRIES) {
        this.log.warn(
          { err: failure.message, faults: request.faults },
          'vendor not reachable; will try the call again',
        );
        const cancelAwaits = await this.record(
          request,
          { phase: 'queued', faults: request.faults + 1 },
          undefined,
        );
        return this.sleep(failure.retryAfterMs ?? backoff(request.faults), cancelAwaits);
      }
      if (failure.delivery === 'uncertain') {
        return this.recoverSubmission({ ...request, phase: 'submitting', submittedAt }, failure.message);
      }
      this.logFailure(failure);
      return this.finish(request, 'failed', { outcome: failure.message });
    }
    return this.accepted(request, progress);
  }

  /**
   * The start call may or may not have reached the vendor (its answer was lost). It is never sent
   * again: where the vendor can list its work, find the job it created and follow that; otherwise,
   * or if nothing shows, end `unknown`, saying so.
   */
  async recoverSubmission(request: OpsRequest, why: string): Promise<void> {
    const action = this.action(request);
    const since = request.submittedAt ?? request.startedAt ?? request.createdAt;
    let found: ActionProgress | undefined;
    if (action.findSubmitted) {
      try {
        found = await action.findSubmitted(this.context(request), request.args, since);
      } catch (error) {
        const failure = toOpsError(error);
        if (failure.retryable && request.faults < MAX_SUBMIT_RETRIES) {
          this.log.warn(
            { err: failure.message },
            'could not look for a lost submission yet; will look again',
          );
          const cancelAwaits = await this.record(request, { faults: request.faults + 1 }, undefined);
          return this.sleep(failure.retryAfterMs ?? backoff(request.faults), cancelAwaits);
        }
        this.log.warn({ err: failure.message }, 'could not look for a lost submission');
      }
    }
    if (!found) {
      const looked = action.findSubmitted
        ? ` ${request.vendor} showed no sign of it when opsbot looked.`
        : '';
      return this.finish(request, 'unknown', {
        outcome: `${why}, so it may or may not have reached the vendor.${looked} Check the vendor before trying again.`,
      });
    }
    this.log.warn({ vendorJobId: found.vendorJobId }, 'found the work of a submission whose answer was lost');
    await this.deps.store.addEvent(request.id, {
      kind: 'reconciled',
      text: `${why}; found ${found.vendorJobId ?? 'its work'} at the vendor`,
    });
    return this.accepted(request, {
      ...found,
      detail: `${found.detail ? `${found.detail}; ` : ''}found at the vendor after its answer to the submission was lost`,
    });
  }

  /** The vendor took the work: say so, record it, and follow it (or end, if it is already over). */
  private async accepted(request: OpsRequest, progress: ActionProgress): Promise<void> {
    const polling = progress.outcome === 'running';
    const cancelAwaits = await this.record(
      request,
      // A synchronous action is also 'polling' here: its progress is already final, so a crash
      // before `finish` is repaired by the poll step without calling the vendor again.
      { phase: 'polling', progress, faults: 0, reported: 1 },
      {
        kind: 'submitted',
        text: `submitted${progress.vendorJobId ? `, vendor job ${progress.vendorJobId}` : ''}: ${progress.status}`,
      },
      { items: [{ key: 'submitted', kind: 'reply', message: progressReply(request, progress, true) }] },
    );
    if (!polling) return this.finish({ ...request, progress }, outcomeState(progress), {});
    const timing = this.timing(request);
    return this.sleep(timing.firstPollDelayMs ?? timing.pollIntervalMs, cancelAwaits);
  }

  /**
   * Acts on `/ops cancel` for a running action. Where the vendor can cancel, ask it once (the
   * attempt is recorded first, like a submission) and keep polling: the vendor's own end state
   * says whether it stopped. Where it cannot, stop following and say the work may go on.
   */
  async cancel(request: OpsRequest): Promise<void> {
    const action = this.action(request);
    const who = request.cancelRequestedBy!;
    const last = request.progress!;
    if (!action.cancel || last.outcome !== 'running') {
      const job = last.vendorJobId ? ` (vendor job \`${last.vendorJobId}\`)` : '';
      return this.finish(request, 'cancelled', {
        outcome: `opsbot stopped following it${job}; ${request.vendor} cannot cancel this work, so it may go on. Last known status ${last.status}`,
        cancelledBy: who,
      });
    }
    await this.deps.store.patch(
      request.id,
      { vendorCancel: 'sending' },
      { kind: 'vendor-call', text: `asking ${request.vendor} to cancel` },
    );
    let answer: string;
    let vendorCancel: 'sent' | 'refused';
    try {
      answer = `:octagonal_sign: Asked ${request.vendor} to cancel: ${await action.cancel(this.context(request), request.args, last)}`;
      vendorCancel = 'sent';
    } catch (error) {
      const failure = toOpsError(error);
      this.logFailure(failure);
      answer = `:warning: ${request.vendor} did not take the cancel: ${failure.message}. opsbot keeps following the action.`;
      vendorCancel = 'refused';
    }
    await this.record(
      request,
      { vendorCancel },
      { kind: 'vendor-cancel', text: answer },
      { items: [{ key: 'vendor-cancel', kind: 'reply', message: section(answer) }] },
    );
    return this.sleep(0);
  }

  async poll(request: OpsRequest): Promise<void> {
    const action = this.action(request);
    const last = request.progress!;
    if (last.outcome !== 'running') return this.finish(request, outcomeState(last), {});
    // The resource lock's lease is renewed by this step's write, after the call.
    if (Date.now() >= (request.deadlineAt ?? Number.POSITIVE_INFINITY)) {
      return this.finish(request, 'timed_out', {
        outcome: `timed out waiting; last known status ${last.status}${last.detail ? ` (${last.detail})` : ''}`,
      });
    }
    let next: ActionProgress;
    try {
      next = await action.poll!(this.context(request), request.args, last);
    } catch (error) {
      const failure = toOpsError(error);
      if (!failure.retryable) {
        this.logFailure(failure);
        return this.finish(request, 'failed', { outcome: failure.message });
      }
      this.log.warn(
        { err: failure.message, faults: request.faults },
        'polling the vendor failed; will try again',
      );
      const cancelAwaits = await this.record(request, { faults: request.faults + 1 }, undefined, {
        renewLease: true,
      });
      const untilDeadline = (request.deadlineAt ?? Date.now()) - Date.now();
      return this.sleep(
        Math.min(failure.retryAfterMs ?? backoff(request.faults), Math.max(0, untilDeadline)),
        cancelAwaits,
      );
    }
    const changed = next.status !== last.status || next.detail !== last.detail;
    const fields = { faults: 0, reported: changed ? request.reported + 1 : request.reported };
    const status = changed
      ? { kind: 'status', text: `${next.status}${next.detail ? `: ${next.detail}` : ''}` }
      : undefined;
    // The vendor says the work is over: the status and the end are one write.
    if (next.outcome !== 'running')
      return this.finish({ ...request, ...fields, progress: next }, outcomeState(next), {}, status);
    const cancelAwaits = await this.record(request, { ...fields, progress: next }, status, {
      // Keyed by its number, so a step repeated after a crash queues it once.
      items: changed
        ? [
            {
              key: `progress-${request.reported + 1}`,
              kind: 'reply',
              message: progressReply(request, next, false),
            },
          ]
        : [],
      renewLease: true,
    });
    return this.sleep(this.timing(request).pollIntervalMs, cancelAwaits);
  }

  /**
   * Ends the run in one write: the state change and its event, the lock's release, the step's
   * routine vendor reads, `event` (a last status the step saw, recorded before the end), and the
   * closing reply and root update. The end is never recorded without its messages queued. `from`:
   * the states it may end from (the give-up path also ends runs that never started).
   */
  async finish(
    request: OpsRequest,
    state: RequestState,
    fields: { outcome?: string; cancelledBy?: string },
    event?: { kind: string; text: string },
    from: RequestState[] = ['running'],
  ): Promise<void> {
    const finishedAt = Date.now();
    // A vendor that reports the work cancelled after `/ops cancel` was asked by that person.
    if (state === 'cancelled' && !fields.cancelledBy && request.cancelRequestedBy)
      fields = { ...fields, cancelledBy: request.cancelRequestedBy };
    const written = {
      ...fields,
      progress: request.progress,
      faults: request.faults,
      reported: request.reported,
      finishedAt,
      phase: 'done' as const,
    };
    // What the record will be if the change is made (the script bumps the version by one): the
    // closing messages are rendered from it.
    const ended: OpsRequest = { ...request, ...written, state, version: request.version + 1 };
    // An action this opsbot no longer knows (the give-up path) names no lock.
    const lock = findActionById(request.actionId) ? this.lockKey(request) : undefined;
    const result = await this.deps.store.transition(
      request.id,
      from,
      state,
      { kind: state, text: fields.outcome ?? state },
      written,
      {
        releaseLock: lock,
        audit: this.takeDeferredAudit(),
        events: event ? [event] : [],
        outbox: this.deps.outbox.batch(request.id, ...closingItems(ended)),
      },
    );
    if (!result.ok) {
      // Someone else ended it first: make sure that end is announced (safe to repeat).
      const current = await this.deps.store.get(request.id);
      if (current && FINAL_STATES.has(current.state) && current.phase !== 'done')
        await this.announceEnd(current);
      return;
    }
    await this.queued();
    this.deps.metrics.requests.inc({ action: request.actionId, outcome: state });
    const started = request.startedAt ?? request.createdAt;
    this.deps.metrics.jobDuration.observe(
      { action: request.actionId, outcome: state },
      (finishedAt - started) / 1000,
    );
    this.log.info({ state, outcome: fields.outcome }, 'action finished');
  }

  /** Queues the closing reply and the root update, then marks the run done. Safe to repeat. */
  async announceEnd(request: OpsRequest): Promise<void> {
    await this.record(request, { phase: 'done' }, undefined, { items: closingItems(request) });
  }

  /**
   * Vendors that answer HTTP 200 with an error body (ArcGIS does, for most failures) are not seen
   * as errors by the HTTP layer's metrics: count them here, by the vendor's own code.
   */
  private countVendorError(failure: OpsError): void {
    if (!(failure instanceof VendorError) || !failure.vendorCode) return;
    if (failure.httpStatus !== undefined && failure.httpStatus >= 400) return;
    this.deps.metrics.vendorErrors.inc({ vendor: failure.vendor, code: failure.vendorCode });
  }

  private logFailure(failure: OpsError): void {
    this.countVendorError(failure);
    if (failure.code === 'internal')
      this.log.error({ err: failure.cause }, 'action failed with an internal error');
    else this.log.warn({ code: failure.code }, failure.message);
  }
}

/** The closing reply (broadcast to the channel when the action did not succeed) and the root update. */
function closingItems(request: OpsRequest): OutboxItem[] {
  const failed = request.state !== 'succeeded' && request.state !== 'cancelled';
  return [
    {
      key: 'final',
      kind: 'reply',
      message: failed ? { ...finalReply(request), text: failureBroadcastText(request) } : finalReply(request),
      broadcast: failed,
    },
    Outbox.root(request.version),
  ];
}

function outcomeState(progress: ActionProgress): RequestState {
  return progress.outcome === 'running' ? 'running' : progress.outcome;
}

function backoff(faults: number): number {
  const base = Math.min(MAX_FAULT_BACKOFF_MS, 1_000 * 2 ** faults);
  return base / 2 + Math.random() * (base / 2);
}
