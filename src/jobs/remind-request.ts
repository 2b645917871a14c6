import type { Job, Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { EffectivePolicy } from '../policy/model.js';
import { describeTally, tally } from '../policy/quorum.js';
import type { RequestStore } from '../requests/store.js';
import type { FollowUpPlan, OpsRequest } from '../requests/types.js';
import { escalationReply, reminderReply } from '../slack/blocks.js';
import type { Outbox } from '../slack/outbox.js';
import { ESCALATE_JOB, REMIND_JOB } from './queues.js';

/**
 * Reminders while a request waits for approval: at its point in the approval window a `remind`
 * job posts one thread reply mentioning whoever could still meet the rules short of approvals,
 * and an `escalate` job, later, one mentioning the escalation role. Each is a delayed job with an
 * id derived from the request (`remind-<id>`, `escalate-<id>`), so however many workers run and
 * however often a request's opening is retried there is one of each; its message has a fixed
 * outbox key (`reminder`, `escalation`), so a retried job posts it once; and it is queued in the
 * same step that finds the request still pending, so nothing is posted once it is decided.
 */

export type FollowUpKind = 'reminder' | 'escalation';

/**
 * What a request opening now will do by itself, from its effective policy: the reminder and
 * escalation times (shares of its approval window), whom it escalates to, and whether the
 * requester hears by DM how it goes. Kept with the request, so a config change does not move an
 * open request's reminders. Undefined when there is nothing to do.
 */
export function followUpPlan(
  policy: EffectivePolicy,
  window: Pick<OpsRequest, 'createdAt' | 'expiresAt'>,
): FollowUpPlan | undefined {
  const at = (share: number) => window.createdAt + Math.round(share * (window.expiresAt - window.createdAt));
  const { reminders, notifyRequester } = policy;
  const escalation = reminders?.escalation;
  const plan: FollowUpPlan = {
    ...(reminders ? { remindAt: at(reminders.after) } : {}),
    ...(escalation ? { escalation: { at: at(escalation.after), to: [...escalation.to] } } : {}),
    ...(notifyRequester ? { notifyRequester } : {}),
  };
  return Object.keys(plan).length > 0 ? plan : undefined;
}

function jobIdOf(kind: FollowUpKind, requestId: string): string {
  return `${kind === 'reminder' ? 'remind' : 'escalate'}-${requestId}`;
}

/** The ids of a request's reminder jobs, to remove them once it is decided. */
export function followUpJobIds(requestId: string): string[] {
  return [jobIdOf('reminder', requestId), jobIdOf('escalation', requestId)];
}

/**
 * Arms the reminder jobs of a request that has just opened. Safe to repeat (a retried opening):
 * BullMQ refuses a second job with the same id, and finished jobs are kept for a week.
 */
export async function armFollowUps(actions: Queue, request: OpsRequest, now = Date.now()): Promise<void> {
  const plan = request.followUp;
  const due: Array<[name: string, kind: FollowUpKind, at: number]> = [];
  if (plan?.remindAt !== undefined) due.push([REMIND_JOB, 'reminder', plan.remindAt]);
  if (plan?.escalation) due.push([ESCALATE_JOB, 'escalation', plan.escalation.at]);
  await Promise.all(
    due.map(([name, kind, at]) =>
      actions.add(
        name,
        { requestId: request.id },
        { jobId: jobIdOf(kind, request.id), delay: Math.max(0, at - now) },
      ),
    ),
  );
}

export interface FollowUpDeps {
  store: RequestStore;
  outbox: Outbox;
  log: Logger;
}

/**
 * Posts a request's reminder or escalation if it still waits for approvals: in one step that
 * finds it pending (and not past its expiry), records the event in its timeline and audit trail
 * and queues the message; then a delivery job sends it.
 */
export function createFollowUp(deps: FollowUpDeps) {
  return async (requestId: string, kind: FollowUpKind): Promise<void> => {
    const request = await deps.store.get(requestId);
    if (request?.state !== 'pending' || !request.quorum) return;
    const message = kind === 'reminder' ? reminderReply(request) : escalationReply(request);
    // A job retried after a crash finds its message already queued: nothing to record twice.
    if (!message || (await deps.outbox.seen(requestId, kind))) return;
    const needs = describeTally(tally(request.quorum.rules, request.votes));
    const result = await deps.store.transition(
      requestId,
      ['pending'],
      'pending',
      { kind, text: `${kind === 'reminder' ? 'reminded' : 'escalated'}: ${needs}` },
      {},
      { notAfterExpiry: true, outbox: deps.outbox.batch(requestId, { key: kind, kind: 'reply', message }) },
    );
    if (!result.ok) return;
    await deps.outbox.kick(requestId);
    deps.log.info({ requestId, correlationId: request.correlationId }, `${kind} posted`);
  };
}

/** The `remind` and `escalate` jobs' processor. */
export function createFollowUpProcessor(deps: FollowUpDeps) {
  const followUp = createFollowUp(deps);
  return async (job: Job<{ requestId: string }>): Promise<void> =>
    followUp(job.data.requestId, job.name === ESCALATE_JOB ? 'escalation' : 'reminder');
}
