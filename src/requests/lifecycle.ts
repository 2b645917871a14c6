import { setTimeout } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { DeliverNow } from '../jobs/deliver-slack.js';
import { EXPIRE_JOB, type Queues } from '../jobs/queues.js';
import { enqueueRun, runJobId } from '../jobs/reconcile.js';
import type { Metrics } from '../observability/metrics.js';
import { section } from '../slack/blocks.js';
import { Outbox } from '../slack/outbox.js';
import type { Policy } from './policy.js';
import type { NewRequest, RequestStore } from './store.js';
import type { OpsRequest } from './types.js';

/** How long a cancel keeps looking for a run job mid-step to fall asleep, so it can wake it. */
const BRING_FORWARD_EVERY_MS = 250;
const BRING_FORWARD_TRIES = 60;

/**
 * Opening a request and deciding on it (approve, cancel). Called by the Slack handlers of any web
 * process; every decision is one compare-and-set in Redis, so concurrent clicks, users, processes
 * and Slack retries produce exactly one outcome.
 */

export type Decision = { ok: true; request: OpsRequest } | { ok: false; reason: string };

/** Where a click came from: its channel and the ts of the message its button was on. */
export interface ClickOrigin {
  channel: string;
  messageTs?: string | undefined;
}

/** When the reconciler first looks at an approved request (it looks sooner if its job is lost). */
const RECONCILE_AFTER_MS = 2 * 60_000;
/** How long the approval's root update waits for the run's own (see afterApproval). */
const APPROVED_EDIT_DELAY_MS = 2_000;

export interface LifecycleDeps {
  /**
   * Delivers a request's queued Slack messages: right away in a worker (createInlineDelivery), so
   * opening a request needs no delivery job; by queueing a delivery job elsewhere.
   */
  deliverNow: DeliverNow;
  store: RequestStore;
  outbox: Outbox;
  queues: Queues;
  policy: Policy;
  log: Logger;
  metrics: Metrics;
}

/** One expiry job per request, armed when it opens and removed once it is decided. */
function expireJobId(requestId: string): string {
  return `expire-${requestId}`;
}

export class RequestLifecycle {
  constructor(private readonly deps: LifecycleDeps) {}

  /**
   * Records a new request, arms its expiry and queues its approval message. Opening the same
   * request again (a retried job) repeats nothing: the record, the expiry job id and the outbox
   * item key are all the same.
   */
  async open(id: string, fields: NewRequest): Promise<OpsRequest> {
    const request = await this.deps.store.create(fields, id);
    if (request.state !== 'pending') return request;
    await this.deps.queues.actions.add(
      EXPIRE_JOB,
      { requestId: request.id },
      { jobId: expireJobId(request.id), delay: Math.max(0, request.expiresAt - Date.now()) },
    );
    // A retried job repeats this: the item is queued once, and delivered here or by the retry.
    await this.deps.outbox.queue(request.id, Outbox.root(request.version));
    await this.deps.deliverNow(request.id, request.channel);
    this.deps.metrics.requests.inc({ action: request.actionId, outcome: 'requested' });
    this.deps.log.info(
      {
        requestId: request.id,
        correlationId: request.correlationId,
        action: request.actionId,
        target: request.target,
        user: request.requester,
      },
      'request opened',
    );
    return request;
  }

  /**
   * Approves a pending request for `user`, clicking on `origin` (the message the click came from).
   * Once the compare-and-set has made it approved, the answer is "approved" whatever happens
   * next: queueing the run and the root update are retried by the reconciler if they fail here.
   */
  async approve(requestId: string, user: string, origin?: ClickOrigin, now = Date.now()): Promise<Decision> {
    const request = await this.deps.store.get(requestId);
    if (!request) return this.refuse('unknown', `request ${requestId} does not exist (any more).`);
    const stray = this.strayClick(request, user, origin);
    if (stray) return stray;
    if (request.state !== 'pending') return this.refuse('duplicate', alreadyDecided(request));
    if (now >= request.expiresAt)
      return this.refuse('late', `request ${requestId} expired; ask for it again.`);
    if (!(await this.deps.policy.mayApprove(request.actionId, user))) {
      return this.refuse(
        'refused',
        `you are not allowed to approve ${request.actionId}. Nothing was changed.`,
      );
    }
    if (this.deps.policy.selfApprovalRefused(request.actionId, request.highRisk, request.requester, user)) {
      return this.refuse(
        'refused',
        `${request.actionId} is high-risk: someone other than the requester must approve it.`,
      );
    }
    const result = await this.deps.store.transition(
      requestId,
      ['pending'],
      'approved',
      { kind: 'approved', actor: user, text: 'approved' },
      { approver: user, decidedAt: now },
      { notAfterExpiry: true, markToEnqueue: true, now, openAt: now + RECONCILE_AFTER_MS },
    );
    if (!result.ok) {
      const current = await this.deps.store.get(requestId);
      return this.refuse(
        result.state === 'late' ? 'late' : 'duplicate',
        result.state === 'late'
          ? `request ${requestId} expired; ask for it again.`
          : alreadyDecided(current ?? request),
      );
    }
    this.deps.metrics.approvals.inc({ result: 'approved' });
    this.deps.log.info({ requestId, correlationId: request.correlationId, user }, 'request approved');
    try {
      await this.afterApproval(requestId, request.version + 1);
    } catch (error) {
      // It is approved: the enqueue outbox holds its id, and the reconciler queues its run and
      // its root update shortly. Telling the clicker "nothing changed" would be false.
      this.deps.log.warn(
        { err: (error as Error).message, requestId },
        'approved, but could not queue the run yet; the reconciler will',
      );
    }
    return {
      ok: true,
      request: { ...request, state: 'approved', approver: user, version: request.version + 1 },
    };
  }

  /** Queues the approved run, disarms the expiry, and updates the root message. */
  private async afterApproval(requestId: string, version: number): Promise<void> {
    await enqueueRun(this.deps.queues.actions, requestId);
    await this.deps.store.enqueued(requestId);
    this.disarmExpiry(requestId);
    // Delivered a moment later: a run that starts at once edits the root to Running (with the
    // vendor's first status) in the same edit, which spares Slack's scarce chat.update budget.
    await this.deps.outbox.pushAfter(APPROVED_EDIT_DELAY_MS, requestId, Outbox.root(version));
  }

  /**
   * A click must come from the request's own message in its own channel: anything else (a
   * forged or replayed payload naming another request) is refused, logged, and changes nothing.
   */
  private strayClick(
    request: OpsRequest,
    user: string,
    origin: ClickOrigin | undefined,
  ): Decision | undefined {
    if (!origin) return undefined;
    const sameChannel = origin.channel === request.channel;
    const sameMessage = !request.rootTs || !origin.messageTs || origin.messageTs === request.rootTs;
    if (sameChannel && sameMessage) return undefined;
    this.deps.log.warn(
      { requestId: request.id, user, channel: origin.channel, messageTs: origin.messageTs },
      "refused a click that does not come from the request's own message",
    );
    return this.refuse(
      'refused',
      `that button does not belong to request ${request.id}. Nothing was changed.`,
    );
  }

  /** Withdraws a pending request. The requester and anyone who may approve it can do this. */
  async withdraw(requestId: string, user: string, origin?: ClickOrigin, now = Date.now()): Promise<Decision> {
    const request = await this.deps.store.get(requestId);
    if (!request) return this.refuse('unknown', `request ${requestId} does not exist (any more).`);
    const stray = this.strayClick(request, user, origin);
    if (stray) return stray;
    if (request.state !== 'pending') return this.refuse('duplicate', alreadyDecided(request));
    const allowed = user === request.requester || (await this.deps.policy.mayApprove(request.actionId, user));
    if (!allowed)
      return this.refuse(
        'refused',
        `only the requester or an approver of ${request.actionId} can cancel it.`,
      );
    const result = await this.deps.store.transition(
      requestId,
      ['pending'],
      'cancelled',
      { kind: 'cancelled', actor: user, text: 'withdrawn before approval' },
      { cancelledBy: user, decidedAt: now, finishedAt: now, phase: 'done' },
    );
    if (!result.ok)
      return this.refuse('duplicate', alreadyDecided((await this.deps.store.get(requestId)) ?? request));
    await this.deps.outbox.push(requestId, Outbox.root(request.version + 1));
    this.disarmExpiry(requestId);
    this.deps.metrics.approvals.inc({ result: 'cancelled' });
    this.deps.metrics.requests.inc({ action: request.actionId, outcome: 'cancelled' });
    return { ok: true, request: { ...request, state: 'cancelled', cancelledBy: user } };
  }

  /**
   * Asks a worker to stop an approved or running action. The request records who asked (once);
   * the worker acts on it at its next step, which is brought forward: before anything reached the
   * vendor the action just ends; once it is running, the vendor is asked to cancel where it can,
   * otherwise opsbot stops following it and says the vendor's work may go on.
   */
  async stopInFlight(requestId: string, user: string, canVendorCancel: boolean): Promise<Decision> {
    const request = await this.deps.store.get(requestId);
    if (!request) return this.refuse('unknown', `request ${requestId} does not exist (any more).`);
    const approversOnly = this.deps.policy.action(request.actionId)?.cancelInFlight === 'approvers';
    const approver = await this.deps.policy.mayApprove(request.actionId, user);
    if (approversOnly && !approver)
      return this.refuse(
        'refused',
        `once approved, ${request.actionId} can only be cancelled by one of its approvers. Nothing was changed.`,
      );
    if (!approver && user !== request.requester)
      return this.refuse(
        'refused',
        `only the requester or an approver of ${request.actionId} can cancel it.`,
      );
    if (request.cancelRequestedBy)
      return this.refuse(
        'duplicate',
        `<@${request.cancelRequestedBy}> already asked to cancel ${requestId}.`,
      );
    // Compare-and-set on the state it has now; if a worker moved it on meanwhile, try once more.
    let state = request.state;
    for (let tries = 0; tries < 3; tries += 1) {
      if (state !== 'approved' && state !== 'running')
        return this.refuse('duplicate', alreadyDecided(request));
      const result = await this.deps.store.transition(
        requestId,
        [state],
        state,
        { kind: 'cancel-requested', actor: user, text: 'asked to cancel' },
        { cancelRequestedBy: user },
      );
      if (result.ok) break;
      if (result.state === 'missing' || result.state === 'late' || result.state === 'fenced')
        return this.refuse('unknown', `request ${requestId} is gone.`);
      state = result.state;
      if (tries === 2) return this.refuse('duplicate', `request ${requestId} is changing; try again.`);
    }
    const plan = canVendorCancel
      ? 'opsbot will ask the vendor to cancel it'
      : 'the vendor cannot cancel this, so opsbot stops following it (work already sent may go on)';
    await this.deps.outbox.push(requestId, {
      key: 'cancel-requested',
      kind: 'reply',
      message: section(`:octagonal_sign: <@${user}> asked to cancel: ${plan}.`),
    });
    await this.bringForward(requestId);
    this.deps.metrics.approvals.inc({ result: 'cancel_requested' });
    return { ok: true, request: { ...request, cancelRequestedBy: user } };
  }

  /**
   * A decided request's expiry job would only find it decided and do nothing; removing it saves
   * its Redis memory for the whole approval window. Best effort: if this fails, the job is a no-op.
   */
  private disarmExpiry(requestId: string): void {
    this.deps.queues.actions
      .remove(expireJobId(requestId))
      .catch((error: Error) =>
        this.deps.log.debug({ err: error.message, requestId }, 'expiry job not removed'),
      );
  }

  /**
   * Runs a request's sleeping run job now, so a cancel does not wait for the next poll. A job in
   * the middle of a step is looked at again until it sleeps (a worker checks for a cancel with its
   * step's last write, but may still be delivering Slack messages after it), then woken.
   */
  private async bringForward(requestId: string): Promise<void> {
    if ((await this.promoteIfSleeping(requestId)) !== 'active') return;
    void (async () => {
      for (let tries = 0; tries < BRING_FORWARD_TRIES; tries += 1) {
        await setTimeout(BRING_FORWARD_EVERY_MS);
        if ((await this.promoteIfSleeping(requestId)) !== 'active') return;
      }
    })().catch((error: Error) =>
      this.deps.log.debug({ err: error.message, requestId }, 'could not bring the run job forward'),
    );
  }

  private async promoteIfSleeping(requestId: string): Promise<'promoted' | 'active' | 'other'> {
    const job = await this.deps.queues.actions.getJob(runJobId(requestId));
    if (!job) return 'other';
    const state = await job.getState();
    if (state === 'active') return 'active';
    if (state !== 'delayed') return 'other';
    await job.promote().catch((error: Error) =>
      // Promoting races with the job waking up by itself: either way it runs now.
      this.deps.log.debug({ err: error.message, requestId }, 'run job was not delayed any more'),
    );
    return 'promoted';
  }

  private refuse(result: string, reason: string): Decision {
    this.deps.metrics.approvals.inc({ result });
    return { ok: false, reason };
  }
}

function alreadyDecided(request: OpsRequest): string {
  switch (request.state) {
    case 'approved':
    case 'running':
      return `request ${request.id} was already approved by <@${request.approver}>.`;
    case 'cancelled':
      return `request ${request.id} was already cancelled${request.cancelledBy ? ` by <@${request.cancelledBy}>` : ''}.`;
    case 'expired':
      return `request ${request.id} expired; ask for it again.`;
    default:
      return `request ${request.id} is already ${request.state.replace('_', ' ')}.`;
  }
}
