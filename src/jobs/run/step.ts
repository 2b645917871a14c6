import type { Logger } from 'pino';
import { OpsError, VendorError } from '../../errors.js';
import type { Metrics } from '../../observability/metrics.js';
import type { EffectivePolicy, RetryPolicy } from '../../policy/model.js';
import type { Policy } from '../../requests/policy.js';
import { type ResourceLocks, resourceOf } from '../../requests/resource-lock.js';
import type { PatchResult, RequestStore } from '../../requests/store.js';
import { FINAL_STATES, type OpsRequest, type RequestState } from '../../requests/types.js';
import { failureBroadcastText, finalReply } from '../../slack/blocks.js';
import { Outbox, type OutboxItem } from '../../slack/outbox.js';
import { requesterDm } from '../../slack/requester-dm.js';
import type { VendorClients } from '../../vendors/clients.js';
import type { CallScope } from '../../vendors/http.js';
import { findActionById } from '../../vendors/registry.js';
import type { ActionContext, ActionProgress } from '../../vendors/types.js';

/**
 * What every phase of a run step shares (submit.ts, follow.ts): its writes, each fenced, its
 * Slack messages, the vendor context, the resource lock, and the run's end. A step is one wake-up
 * of the run job: it reads the request, does one thing, records the result and sleeps or ends.
 */

export interface RunDeps {
  store: RequestStore;
  outbox: Outbox;
  clients: VendorClients;
  locks: ResourceLocks;
  /**
   * Each request runs by its own policy, its action on its target (`Policy.effective`): its
   * timing, its retry settings and what it does when its resource is busy.
   */
  policy: Pick<Policy, 'effective'>;
  log: Logger;
  metrics: Metrics;
}

/** Sleeps the run job; `cancelAwaits`, when the caller's last write answered it, saves a read. */
export type Sleep = (ms: number, cancelAwaits?: boolean) => Promise<never>;
export type DeferredAudit = NonNullable<CallScope['deferredAudit']>;

/**
 * Thrown when a step finds that another worker owns its request now (a write of the step was
 * refused by the fencing token, or the request ended meanwhile): the step stops at once, and
 * whoever owns the request goes on. One shared instance: nothing about it varies.
 */
export const SUPERSEDED = new (class Superseded extends Error {
  constructor() {
    super('another worker owns this run step now');
  }
})();

/** Options of a step's write (Step.write). */
export interface WriteOptions {
  /** Slack messages to queue in the same write. */
  items?: OutboxItem[];
  /** Renew the resource lock's lease, or take it (`required`: write only if it is ours). */
  lease?: 'renew' | 'required';
  /** The phase the request must still be in. */
  phase?: OpsRequest['phase'];
}

export class Step {
  /**
   * The request's fencing token as this step knows it: the value its next write must find. Every
   * write of the step moves it on; a write that finds another value means another worker wrote.
   */
  #fence: number;

  constructor(
    readonly deps: RunDeps,
    readonly log: Logger,
    readonly sleep: Sleep,
    /**
     * Called once Slack messages are queued in the outbox: the run job delivers them itself
     * before it sleeps or ends; the enders (give-up, deadline) queue a delivery job.
     */
    private readonly queued: () => Promise<void>,
    request: OpsRequest,
    /**
     * Whom the step's vendor calls are made for (none for the enders, which call no vendor);
     * its routine reads so far wait in `deferredAudit` for the step's next write.
     */
    private readonly scope?: CallScope & { deferredAudit: DeferredAudit },
  ) {
    this.#fence = request.fence;
  }

  /** Takes up a request read again (after a refused transition): its token is the one to hold. */
  adopt(request: OpsRequest): void {
    this.#fence = request.fence;
  }

  /** The fencing token for a transition made now (see RequestStore.transition). */
  get fence(): number {
    return this.#fence;
  }

  /** Routine vendor reads made so far in this step, for its next write to record. */
  takeDeferredAudit(): DeferredAudit {
    return this.scope?.deferredAudit.splice(0) ?? [];
  }

  /**
   * Records a step's result, fenced, with its messages in the same write (so a crash can neither
   * lose them nor send them without the result). Throws SUPERSEDED if another worker wrote since
   * (or the request ended); answers `locked` when a required lease is another request's.
   */
  async write(
    request: OpsRequest,
    fields: Partial<OpsRequest>,
    event: { kind: string; text: string } | undefined,
    options: WriteOptions = {},
  ): Promise<PatchResult> {
    const items = options.items ?? [];
    const result = await this.deps.store.patch(request.id, fields, event, {
      audit: this.takeDeferredAudit(),
      outbox: items.length > 0 ? this.deps.outbox.batch(request.id, ...items) : undefined,
      lease: options.lease
        ? { key: this.lockKey(request), ms: this.leaseMs(request), required: options.lease === 'required' }
        : undefined,
      fence: { token: this.#fence, phase: options.phase },
    });
    if (result.status === 'fenced' || result.status === 'missing') throw SUPERSEDED;
    if (result.status === 'locked') return result;
    this.#fence += 1;
    if (items.length > 0) await this.queued();
    return result;
  }

  /** `write`, answering only whether a cancel awaits this worker. */
  async record(
    request: OpsRequest,
    fields: Partial<OpsRequest>,
    event: { kind: string; text: string } | undefined,
    options: WriteOptions = {},
  ): Promise<boolean> {
    return (await this.write(request, fields, event, options)).cancelAwaits;
  }

  /** Queues messages that go with no write (the resource-busy note). */
  async post(request: OpsRequest, ...items: OutboxItem[]): Promise<void> {
    await this.deps.outbox.queue(request.id, ...items);
    await this.queued();
  }

  /** The vendor context of a call; `beforeMutation` runs right before the call that changes things. */
  context(request: OpsRequest, beforeMutation?: () => Promise<void>): ActionContext<unknown> {
    return {
      client: this.deps.clients.get(request.vendor, request.target),
      target: request.target,
      log: this.log,
      scope: this.scope && { ...this.scope, beforeMutation },
    };
  }

  action(request: OpsRequest) {
    const found = findActionById(request.actionId);
    if (!found) throw unknownAction(request);
    return found.action;
  }

  /** The request's own policy: its action on its target, every level of the config applied. */
  policy(request: OpsRequest): EffectivePolicy {
    const found = this.deps.policy.effective(request.actionId, request.target);
    if (!found) throw unknownAction(request);
    return found;
  }

  timing(request: OpsRequest) {
    return this.policy(request).timing;
  }

  /**
   * A transient fault (the call may be tried again): records it with the retry line the root
   * shows ("Retrying (attempt 3 of 6): ECE answered …") and a root update keyed by this write, so
   * each try is shown and a later one replaces it; then sleeps until the next try (the vendor's
   * Retry-After, else the backoff), never past `until`. `attempts`: the most tries, where there
   * is a limit. `fields` and `lease` go with the write.
   */
  async retryLater(
    request: OpsRequest,
    failure: OpsError,
    options: { attempts?: number; until?: number; fields?: Partial<OpsRequest>; lease?: 'renew' } = {},
  ): Promise<never> {
    const { attempts, until, fields, lease } = options;
    const attempt = `attempt ${request.faults + 2}${attempts === undefined ? ', until the deadline' : ` of ${attempts}`}`;
    const cancelAwaits = await this.record(
      request,
      { ...fields, faults: request.faults + 1, retrying: `Retrying (${attempt}): ${failure.message}` },
      undefined,
      { items: [this.rootUpdate(request)], lease },
    );
    const wait = failure.retryAfterMs ?? backoff(this.policy(request).retry, request.faults);
    return this.sleep(
      until === undefined ? wait : Math.min(wait, Math.max(0, until - Date.now())),
      cancelAwaits,
    );
  }

  /**
   * The fields that clear the retry line once a call succeeded, with the root update that shows
   * it gone (none if there is no line).
   */
  retried(request: OpsRequest): { fields: Partial<OpsRequest>; items: OutboxItem[] } {
    return request.retrying
      ? { fields: { retrying: '' }, items: [this.rootUpdate(request)] }
      : { fields: {}, items: [] };
  }

  /**
   * A root update queued by the step's next write, keyed by the fencing token that write takes:
   * unique to it (a storm's tries each show), and queued once if a crashed step repeats it.
   */
  private rootUpdate(request: OpsRequest): OutboxItem {
    return { ...Outbox.root(request.version), key: `root@${request.version}:f${this.#fence}` };
  }

  /** The lock lease outlives the wait between two polls comfortably; the holder renews it each step. */
  leaseMs(request: OpsRequest): number {
    const timing = this.timing(request);
    return Math.max(timing.pollIntervalMs, timing.firstPollDelayMs ?? 0) * 4 + 120_000;
  }

  lockKey(request: OpsRequest): string {
    return this.deps.locks.key(request, resourceOf(this.action(request), request.args));
  }

  /**
   * Ends the run in one write: the state change and its event, the lock's release, the step's
   * routine vendor reads, `event` (a last status the step saw, recorded before the end), and the
   * closing reply and root update. The end is never recorded without its messages queued.
   * `from`: the states it may end from; `fenced: false` for the enders, which end a run no step
   * is taking (they pass `['approved', 'running']`).
   */
  async finish(
    request: OpsRequest,
    state: RequestState,
    fields: { outcome?: string; cancelledBy?: string },
    event?: { kind: string; text: string },
    options: { from?: RequestState[]; fenced?: boolean } = {},
  ): Promise<void> {
    const { from = ['running'], fenced = true } = options;
    const finishedAt = Date.now();
    // A vendor that reports the work cancelled after `/ops cancel` was asked by that person.
    if (state === 'cancelled' && !fields.cancelledBy && request.cancelRequestedBy)
      fields = { ...fields, cancelledBy: request.cancelRequestedBy };
    const written = {
      ...fields,
      ...(request.retrying ? { retrying: '' } : {}),
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
        fence: fenced ? this.#fence : undefined,
      },
    );
    if (!result.ok) {
      if (result.state !== 'fenced') {
        // Someone else ended it first: make sure that end is announced (safe to repeat).
        const current = await this.deps.store.get(request.id);
        if (current && FINAL_STATES.has(current.state) && current.phase !== 'done')
          await this.announceEnd(current);
      }
      // A step stops here: whoever ended it, or wrote since, owns the request.
      if (fenced) throw SUPERSEDED;
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

  /**
   * Queues the closing reply and the root update of a run that ended without them (a crash
   * between the two), then marks it done. Not fenced (the run is over; no step writes to it any
   * more) and safe to repeat: the items are keyed.
   */
  async announceEnd(request: OpsRequest): Promise<void> {
    await this.deps.store.patch(request.id, { phase: 'done' }, undefined, {
      audit: this.takeDeferredAudit(),
      outbox: this.deps.outbox.batch(request.id, ...closingItems(request)),
    });
    await this.queued();
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

  logFailure(failure: OpsError): void {
    this.countVendorError(failure);
    if (failure.code === 'internal')
      this.log.error({ err: failure.cause }, 'action failed with an internal error');
    else this.log.warn({ code: failure.code }, failure.message);
  }
}

/**
 * The closing reply (broadcast to the channel when the action did not succeed), the root update
 * and, where its policy asks for it, the requester's DM.
 */
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
    ...requesterDm(request),
  ];
}

export function outcomeState(progress: ActionProgress): RequestState {
  return progress.outcome === 'running' ? 'running' : progress.outcome;
}

/**
 * A transient fault's wait before the next try: `initialDelay`·2ⁿ after n earlier faults, capped
 * at `maxDelay`, jittered (half to all of it) so that many runs hit by one outage spread out.
 */
export function backoff(retry: RetryPolicy, faults: number): number {
  const base = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** faults);
  return base / 2 + Math.random() * (base / 2);
}

function unknownAction(request: OpsRequest): OpsError {
  return new OpsError('action.unknown', `action ${request.actionId} is no longer known to this opsbot`);
}
