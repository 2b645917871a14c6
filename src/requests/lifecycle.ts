import { setTimeout } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Calendar } from '../calendar/calendar.js';
import type { DeliverNow } from '../jobs/deliver-slack.js';
import { EXPIRE_JOB, type Queues } from '../jobs/queues.js';
import { enqueueRun, runJobId } from '../jobs/reconcile.js';
import { armFollowUps, followUpJobIds, followUpPlan } from '../jobs/remind-request.js';
import type { Metrics } from '../observability/metrics.js';
import { describeTally, evaluateVote } from '../policy/quorum.js';
import { section } from '../slack/blocks.js';
import { escapeMrkdwn } from '../slack/mrkdwn.js';
import { Outbox } from '../slack/outbox.js';
import { requesterDm } from '../slack/requester-dm.js';
import { findActionById } from '../vendors/registry.js';
import type { Policy } from './policy.js';
import { type ResourceLocks, resourceOf } from './resource-lock.js';
import type { NewRequest, RequestStore } from './store.js';
import type { OpsRequest, QuorumSnapshot } from './types.js';

/** How long a cancel keeps looking for a run job mid-step to fall asleep, so it can wake it. */
const BRING_FORWARD_EVERY_MS = 250;
const BRING_FORWARD_TRIES = 60;

/**
 * Opening a request and deciding on it (approve, reject, cancel). Called by the Slack handlers of any web
 * process; every decision is one compare-and-set in Redis, so concurrent clicks, users, processes
 * and Slack retries produce exactly one outcome.
 */

/** A decision's answer; `note`, when set, is said to the clicker (e.g. how far the approvals are). */
export type Decision =
  | { ok: true; request: OpsRequest; note?: string | undefined }
  | { ok: false; reason: string };

/** Where a click came from: its channel and the ts of the message its button was on. */
export interface ClickOrigin {
  channel: string;
  messageTs?: string | undefined;
}

/** When the reconciler first looks at an approved request (it looks sooner if its job is lost). */
const RECONCILE_AFTER_MS = 2 * 60_000;
/** How long the approval's root update waits for the run's own (see afterApproval). */
const APPROVED_EDIT_DELAY_MS = 2_000;
/** Votes that raced this one are weighed again this many times before the clicker is asked to retry. */
const VOTE_TRIES = 10;

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
  /** Where resource locks live, for the re-check at approval. */
  locks: ResourceLocks;
  /** Change freezes (and schedules), for the re-check at approval. */
  calendar: Calendar;
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
   * Records a new request with its follow-up plan (reminders, DMs: see remind-request.ts), arms
   * its expiry and reminders and queues its approval message. Opening the same request again (a
   * retried job) repeats nothing: the record, the job ids and the outbox item key are the same.
   */
  async open(id: string, fields: NewRequest): Promise<OpsRequest> {
    const effective = this.deps.policy.effective(fields.actionId, fields.target);
    const followUp = effective && followUpPlan(effective, fields);
    const request = await this.deps.store.create({ followUp, ...fields }, id);
    if (request.state !== 'pending') return request;
    await this.deps.queues.actions.add(
      EXPIRE_JOB,
      { requestId: request.id },
      { jobId: expireJobId(request.id), delay: Math.max(0, request.expiresAt - Date.now()) },
    );
    await armFollowUps(this.deps.queues.actions, request);
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
   * One approval of a pending request by `user`, clicking on `origin` (the message the click came
   * from). The request's own checks are made again first (the re-check: the requester may still
   * ask for it here, nobody else holds its resource); then the vote is weighed against the
   * request's quorum snapshot and recorded atomically (RequestStore.vote): any number of clicks,
   * people, processes and retries give one approval each at most, and exactly one run once the
   * quorum is met. Once the vote that meets it is recorded the answer is "approved", whatever
   * happens next: queueing the run and the root update are retried by the reconciler if need be.
   */
  async approve(requestId: string, user: string, origin?: ClickOrigin, now = Date.now()): Promise<Decision> {
    // The re-check and the rules the clicker may fill depend on nothing a vote changes: made once,
    // on the first pass, however often a race with another vote sends the loop round again.
    let eligible: number[] | undefined;
    for (let attempt = 0; attempt < VOTE_TRIES; attempt += 1) {
      const request = await this.deps.store.get(requestId);
      if (!request) return this.refuse('unknown', `request ${requestId} does not exist (any more).`);
      const stray = this.strayClick(request, user, origin);
      if (stray) return stray;
      if (request.state !== 'pending') return this.refuse('duplicate', alreadyDecided(request));
      if (now >= request.expiresAt)
        return this.refuse('late', `request ${requestId} expired; ask for it again.`);
      const quorum = this.quorumOf(request);
      if (!quorum) return this.refuse('refused', `${request.actionId} is no longer known to this opsbot.`);
      if (eligible === undefined) {
        const blocked = await this.recheck(request);
        if (blocked) return this.refuseBlocked(request, user, blocked);
        eligible = await this.deps.policy.eligibleFor(quorum.rules, user);
      }
      const verdict = evaluateVote(
        quorum.rules,
        request.votes,
        { user, eligible },
        request.requester,
        quorum.requesterCounts,
      );
      if (!verdict.accepted) {
        const repeat = request.votes.some((vote) => vote.user === user);
        return this.refuse(
          repeat ? 'duplicate' : 'refused',
          `${capitalize(verdict.reason)}. Nothing was changed.`,
        );
      }
      // A later vote clears a refusal the root shows; the approving one also names its approver.
      const cleared = request.blocked ? { blocked: '' } : {};
      const result = await this.deps.store.vote(
        requestId,
        { user, eligible, at: now },
        request.votes.length,
        verdict.met
          ? {
              met: true,
              fields: { ...cleared, approver: user, decidedAt: now },
              openAt: now + RECONCILE_AFTER_MS,
            }
          : { met: false, fields: cleared },
        now,
      );
      switch (result) {
        case 'changed':
          continue; // another vote came in meanwhile: weigh this one again against both
        case 'voted':
          return this.refuse('duplicate', 'You already approved. Nothing was changed.');
        case 'late':
          return this.refuse('late', `request ${requestId} expired; ask for it again.`);
        case 'counted': {
          await this.deps.outbox.push(requestId, Outbox.root(request.version + 1));
          this.deps.metrics.approvals.inc({ result: 'counted' });
          this.deps.log.info({ requestId, correlationId: request.correlationId, user }, 'approval counted');
          return {
            ok: true,
            request: { ...request, version: request.version + 1 },
            note: `Your approval counts: ${describeTally(verdict.tally)}.`,
          };
        }
        case 'approved':
          return this.approved(request, user, now);
        default:
          return this.refuse('duplicate', alreadyDecided((await this.deps.store.get(requestId)) ?? request));
      }
    }
    return this.refuse(
      'busy',
      `approvals of ${requestId} are arriving faster than they can be counted; try again.`,
    );
  }

  /** The vote that met the quorum is in: queue the run (see afterApproval) and say approved. */
  private async approved(request: OpsRequest, user: string, now: number): Promise<Decision> {
    this.deps.metrics.approvals.inc({ result: 'approved' });
    this.deps.log.info(
      { requestId: request.id, correlationId: request.correlationId, user },
      'request approved',
    );
    const approved: OpsRequest = {
      ...request,
      state: 'approved',
      approver: user,
      decidedAt: now,
      version: request.version + 1,
    };
    const voters = [...request.votes, { user, eligible: [], at: now }];
    try {
      // Before the run is queued, so the requester's DM comes before anything the run says.
      await this.deps.outbox.queue(request.id, ...requesterDm({ ...approved, votes: voters }));
      await this.afterApproval(request, request.version + 1);
    } catch (error) {
      // It is approved: the enqueue outbox holds its id, and the reconciler queues its run and
      // its root update shortly. Telling the clicker "nothing changed" would be false.
      this.deps.log.warn(
        { err: (error as Error).message, requestId: request.id },
        'approved, but could not queue the run yet; the reconciler will',
      );
    }
    return { ok: true, request: approved };
  }

  /** Queues the approved run, disarms its expiry and reminders, and updates the root message. */
  private async afterApproval(request: OpsRequest, version: number): Promise<void> {
    const requestId = request.id;
    await enqueueRun(this.deps.queues.actions, requestId, request.runAt);
    if (request.runAt !== undefined) await this.deps.calendar.scheduled(requestId, request.runAt);
    await this.deps.store.enqueued(requestId);
    this.disarmJobs(requestId);
    // Delivered a moment later: a run that starts at once edits the root to Running (with the
    // vendor's first status) in the same edit, which spares Slack's scarce chat.update budget.
    await this.deps.outbox.pushAfter(APPROVED_EDIT_DELAY_MS, requestId, Outbox.root(version));
  }

  /**
   * The approval rules a request is counted against: the snapshot it was opened with, or, for a
   * request opened before snapshots existed, its action's rules as configured now.
   */
  private quorumOf(request: OpsRequest): QuorumSnapshot | undefined {
    if (request.quorum) return request.quorum;
    const effective = this.deps.policy.effective(request.actionId, request.target);
    return effective && { rules: [...effective.approvals], requesterCounts: effective.requesterCounts };
  }

  /**
   * Whether `user` is one of this request's approvers: in one of its own approval rules (a
   * break-glass override's role included), as approving, rejecting and cancelling all ask.
   */
  private async isApprover(request: OpsRequest, user: string): Promise<boolean> {
    const quorum = this.quorumOf(request);
    return quorum !== undefined && (await this.deps.policy.eligibleFor(quorum.rules, user)).length > 0;
  }

  /**
   * What was true when the request was asked, checked again at each approval: the requester may
   * still ask for it in its channel (roles and bindings), and, where its policy refuses to wait for
   * a busy resource, no other request holds it. Answers why not, or undefined.
   */
  private async recheck(request: OpsRequest): Promise<string | undefined> {
    const may = await this.deps.policy.mayRequestHere(
      request.requester,
      request.channel,
      request.actionId,
      request.target,
    );
    if (!may.ok) return `the requester may no longer ask for ${request.actionId} here (${may.reason})`;
    const frozen = await this.deps.calendar.recheck(request, Date.now());
    if (frozen) return frozen;
    const action = findActionById(request.actionId)?.action;
    // A request whose policy is to wait for a busy resource may be approved and wait (the thread
    // says so); one whose policy is to refuse is refused now rather than approved in vain.
    const whenBusy = this.deps.policy.effective(request.actionId, request.target)?.whenBusy;
    if (action && action.mode !== 'read' && whenBusy === 'refuse') {
      const resource = resourceOf(action, request.args);
      const holder = await this.deps.locks.runningOn(this.deps.locks.key(request, resource));
      if (holder && holder !== request.id) {
        return `request ${holder} is working on ${resource} on ${request.vendor}/${request.target}; approve this once it has ended`;
      }
    }
    return undefined;
  }

  /** A re-check refused the click: say why to the clicker, on the root message and in the audit trail. */
  private async refuseBlocked(request: OpsRequest, user: string, why: string): Promise<Decision> {
    if (request.blocked !== why) {
      const result = await this.deps.store.transition(
        request.id,
        ['pending'],
        'pending',
        { kind: 'recheck-refused', actor: user, text: `approval refused: ${why}` },
        { blocked: why },
      );
      if (result.ok) await this.deps.outbox.push(request.id, Outbox.root(request.version + 1));
    }
    // `why` is plain text (a freeze's reason is someone's words): escaped for the ephemeral answer.
    return this.refuse('blocked', `Approval refused: ${escapeMrkdwn(why)}. Nothing was changed.`);
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

  /**
   * An approver of the request says no, with a reason: the request ends `rejected`, whatever
   * approvals it had so far. The reason is shown on the root, in the thread and in the audit trail.
   */
  async reject(
    requestId: string,
    user: string,
    origin: ClickOrigin | undefined,
    reason: string,
    now = Date.now(),
  ): Promise<Decision> {
    const request = await this.deps.store.get(requestId);
    if (!request) return this.refuse('unknown', `request ${requestId} does not exist (any more).`);
    const stray = this.strayClick(request, user, origin);
    if (stray) return stray;
    if (request.state !== 'pending') return this.refuse('duplicate', alreadyDecided(request));
    const why = reason.trim();
    if (why === '') return this.refuse('refused', 'a rejection needs a reason. Nothing was changed.');
    if (!(await this.isApprover(request, user)))
      return this.refuse(
        'refused',
        `only an approver of ${request.actionId} can reject it. Nothing was changed.`,
      );
    const result = await this.deps.store.transition(
      requestId,
      ['pending'],
      'rejected',
      { kind: 'rejected', actor: user, text: `rejected: ${why}` },
      { rejectedBy: user, decisionReason: why, decidedAt: now, finishedAt: now, phase: 'done' },
      { notAfterExpiry: true, now },
    );
    if (!result.ok) {
      if (result.state === 'late')
        return this.refuse('late', `request ${requestId} expired; ask for it again.`);
      return this.refuse('duplicate', alreadyDecided((await this.deps.store.get(requestId)) ?? request));
    }
    const rejected: OpsRequest = { ...request, state: 'rejected', rejectedBy: user, decisionReason: why };
    await this.deps.outbox.push(
      requestId,
      Outbox.root(request.version + 1),
      {
        key: 'rejected',
        kind: 'reply',
        message: section(`:no_entry: <@${user}> rejected it: “${escapeMrkdwn(why)}”`),
      },
      ...requesterDm(rejected),
    );
    this.disarmJobs(requestId);
    this.deps.metrics.approvals.inc({ result: 'rejected' });
    this.deps.metrics.requests.inc({ action: request.actionId, outcome: 'rejected' });
    return { ok: true, request: rejected };
  }

  /** Withdraws a pending request. The requester and anyone who may approve it can do this. */
  async withdraw(
    requestId: string,
    user: string,
    origin?: ClickOrigin,
    reason?: string,
    now = Date.now(),
  ): Promise<Decision> {
    const request = await this.deps.store.get(requestId);
    if (!request) return this.refuse('unknown', `request ${requestId} does not exist (any more).`);
    const stray = this.strayClick(request, user, origin);
    if (stray) return stray;
    if (request.state !== 'pending') return this.refuse('duplicate', alreadyDecided(request));
    const why = reason?.trim() || undefined;
    const allowed = user === request.requester || (await this.isApprover(request, user));
    if (!allowed)
      return this.refuse(
        'refused',
        `only the requester or an approver of ${request.actionId} can cancel it.`,
      );
    const result = await this.deps.store.transition(
      requestId,
      ['pending'],
      'cancelled',
      { kind: 'cancelled', actor: user, text: `withdrawn before approval${why ? `: ${why}` : ''}` },
      { cancelledBy: user, decisionReason: why, decidedAt: now, finishedAt: now, phase: 'done' },
    );
    if (!result.ok)
      return this.refuse('duplicate', alreadyDecided((await this.deps.store.get(requestId)) ?? request));
    // The reason, when one was given, is said in the thread too, as a rejection's is.
    const said = why
      ? [
          {
            key: 'withdrawn',
            kind: 'reply' as const,
            message: section(`:no_entry_sign: <@${user}> cancelled it: “${escapeMrkdwn(why)}”`),
          },
        ]
      : [];
    await this.deps.outbox.push(requestId, Outbox.root(request.version + 1), ...said);
    this.disarmJobs(requestId);
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
  async stopInFlight(
    requestId: string,
    user: string,
    canVendorCancel: boolean,
    reason?: string,
  ): Promise<Decision> {
    const request = await this.deps.store.get(requestId);
    if (!request) return this.refuse('unknown', `request ${requestId} does not exist (any more).`);
    const why = reason?.trim() || undefined;
    const approversOnly =
      this.deps.policy.effective(request.actionId, request.target)?.cancelInFlight === 'approvers';
    const approver = await this.isApprover(request, user);
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
        { kind: 'cancel-requested', actor: user, text: `asked to cancel${why ? `: ${why}` : ''}` },
        { cancelRequestedBy: user, decisionReason: why },
      );
      if (result.ok) break;
      if (result.state === 'missing' || result.state === 'late' || result.state === 'fenced')
        return this.refuse('unknown', `request ${requestId} is gone.`);
      state = result.state;
      if (tries === 2) return this.refuse('duplicate', `request ${requestId} is changing; try again.`);
    }
    const plan =
      state === 'approved'
        ? 'it has not started, so it will not run'
        : canVendorCancel
          ? 'opsbot will ask the vendor to cancel it'
          : 'the vendor cannot cancel this, so opsbot stops following it (work already sent may go on)';
    await this.deps.outbox.push(requestId, {
      key: 'cancel-requested',
      kind: 'reply',
      message: section(
        `:octagonal_sign: <@${user}> asked to cancel${why ? ` (“${escapeMrkdwn(why)}”)` : ''}: ${plan}.`,
      ),
    });
    await this.bringForward(requestId);
    this.deps.metrics.approvals.inc({ result: 'cancel_requested' });
    return { ok: true, request: { ...request, cancelRequestedBy: user } };
  }

  /**
   * A decided request's expiry and reminder jobs would only find it decided and do nothing;
   * removing them saves their Redis memory for the whole approval window. Best effort: if this
   * fails, the jobs are no-ops.
   */
  private disarmJobs(requestId: string): void {
    for (const jobId of [expireJobId(requestId), ...followUpJobIds(requestId)]) {
      this.deps.queues.actions
        .remove(jobId)
        .catch((error: Error) =>
          this.deps.log.debug({ err: error.message, requestId, jobId }, 'job not removed'),
        );
    }
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
    case 'rejected':
      return `request ${request.id} was already rejected by <@${request.rejectedBy}>.`;
    case 'expired':
      return `request ${request.id} expired; ask for it again.`;
    default:
      return `request ${request.id} is already ${request.state.replace('_', ' ')}.`;
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
