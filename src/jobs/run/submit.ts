import { OpsError, toOpsError } from '../../errors.js';
import { resourceOf } from '../../requests/resource-lock.js';
import type { OpsRequest } from '../../requests/types.js';
import { progressReply, section } from '../../slack/blocks.js';
import { escapeMrkdwn, slackDate } from '../../slack/mrkdwn.js';
import { Outbox } from '../../slack/outbox.js';
import type { ActionProgress } from '../../vendors/types.js';
import { outcomeState, type Step, SUPERSEDED } from './step.js';

/**
 * The submit phase: the one call that changes something at the vendor, made at most once.
 *
 *   queued ──(reads, token)──▶ "submitting" recorded ──mutating call──▶ polling
 *
 * The uncertain phase is held only around the mutating call itself: the vendor client calls the
 * step back right before sending it (CallScope.beforeMutation), and the step records
 * "submitting" there, in the write that also takes the resource lock, fenced so that of two
 * workers that both read `queued`, only one ever sends it. Whatever fails before that point
 * (a read the action makes first, a token grant) left nothing at the vendor and is tried again;
 * a worker that finds "submitting" knows the call's fate is unknown and never sends it blindly.
 */

/** What the mutating call's callback found: the call was marked (at this time) or the lock is busy. */
type Mark = { kind: 'marked'; submittedAt: number } | { kind: 'busy'; holder: string };

/** Thrown by the callback to stop the client from sending while another request holds the lock. */
const RESOURCE_BUSY = new OpsError('resource.busy', 'the resource is busy', { delivery: 'not-sent' });

export async function submit(step: Step, request: OpsRequest): Promise<void> {
  const action = step.action(request);
  let mark: Mark | undefined;
  const beforeMutation = async () => {
    if (mark?.kind === 'marked') return; // a resend of the same call (a refused token, retried)
    const submittedAt = Date.now();
    const result = await step.write(
      request,
      { phase: 'submitting', submittedAt },
      { kind: 'vendor-call', text: `calling ${request.vendor}` },
      { lease: 'required', phase: 'queued' },
    );
    if (result.status === 'locked') {
      mark = { kind: 'busy', holder: result.lockHolder! };
      throw RESOURCE_BUSY;
    }
    mark = { kind: 'marked', submittedAt };
  };
  let progress: ActionProgress;
  try {
    if (!action.start) throw new OpsError('action.no-start', `${action.id} cannot be started`);
    progress = await action.start(step.context(request, beforeMutation), request.args);
  } catch (error) {
    if (error === SUPERSEDED) throw error;
    if (mark?.kind === 'busy') return resourceBusy(step, request, mark.holder);
    const failure = toOpsError(error);
    // Before the mutating call, nothing was sent whatever the failure says of itself.
    const notSent = mark === undefined || failure.delivery === 'not-sent';
    const { attempts } = step.policy(request).retry;
    if (failure.retryable && notSent && request.faults + 1 < attempts) {
      step.log.warn(
        { err: failure.message, faults: request.faults },
        'vendor not reachable; will try the call again',
      );
      return step.retryLater(request, failure, { attempts, fields: { phase: 'queued' } });
    }
    if (mark?.kind === 'marked' && failure.delivery === 'uncertain') {
      return recoverSubmission(
        step,
        { ...request, phase: 'submitting', submittedAt: mark.submittedAt },
        failure.message,
      );
    }
    step.logFailure(failure);
    return step.finish(request, 'failed', { outcome: failure.message });
  }
  if (mark === undefined) {
    // The vendor took the work, but its client never said when it sent the call: a bug in that
    // client, which would leave a crash during the call unnoticed. Followed all the same.
    step.log.error({ action: action.id }, 'a start call was sent without marking it (vendor client bug)');
  }
  return accepted(step, request, progress);
}

/**
 * The start call may or may not have reached the vendor (its answer was lost). It is never sent
 * again: where the vendor can list its work, find the job it created and follow that; otherwise,
 * or if nothing shows, end `unknown`, saying so.
 */
export async function recoverSubmission(step: Step, request: OpsRequest, why: string): Promise<void> {
  const action = step.action(request);
  const since = request.submittedAt ?? request.startedAt ?? request.createdAt;
  let found: ActionProgress | undefined;
  if (action.findSubmitted) {
    try {
      found = await action.findSubmitted(step.context(request), request.args, since);
    } catch (error) {
      const failure = toOpsError(error);
      const { attempts } = step.policy(request).retry;
      if (failure.retryable && request.faults + 1 < attempts) {
        step.log.warn({ err: failure.message }, 'could not look for a lost submission yet; will look again');
        return step.retryLater(request, failure, { attempts });
      }
      step.log.warn({ err: failure.message }, 'could not look for a lost submission');
    }
  }
  if (!found) {
    const looked = action.findSubmitted ? ` ${request.vendor} showed no sign of it when opsbot looked.` : '';
    return step.finish(request, 'unknown', {
      outcome: `${why}, so it may or may not have reached the vendor.${looked} Check the vendor before trying again.`,
    });
  }
  step.log.warn({ vendorJobId: found.vendorJobId }, 'found the work of a submission whose answer was lost');
  await step.record(
    request,
    {},
    {
      kind: 'reconciled',
      text: `${why}; found ${found.vendorJobId ?? 'its work'} at the vendor`,
    },
  );
  return accepted(step, request, {
    ...found,
    detail: `${found.detail ? `${found.detail}; ` : ''}found at the vendor after its answer to the submission was lost`,
  });
}

/**
 * The vendor took the work: say so in the thread and on the root message (now Running, with the
 * vendor's status), record it, and follow it (or end, if it is already over).
 */
async function accepted(step: Step, request: OpsRequest, progress: ActionProgress): Promise<void> {
  const polling = progress.outcome === 'running';
  const cancelAwaits = await step.record(
    request,
    // A synchronous action is also 'polling' here: its progress is already final, so a crash
    // before `finish` is repaired by the poll step without calling the vendor again. The root
    // update below shows the retry line gone.
    { phase: 'polling', progress, faults: 0, reported: 1, ...step.retried(request).fields },
    {
      kind: 'submitted',
      text: `submitted${progress.vendorJobId ? `, vendor job ${progress.vendorJobId}` : ''}: ${progress.status}`,
    },
    {
      items: [
        { key: 'submitted', kind: 'reply', message: progressReply(request, progress, true) },
        // Keyed apart from the version's own root update (the end's), so both are queued.
        { ...Outbox.root(request.version), key: `root@${request.version}:submitted` },
      ],
    },
  );
  if (!polling) return step.finish({ ...request, progress }, outcomeState(progress), {});
  const timing = step.timing(request);
  return step.sleep(timing.firstPollDelayMs ?? timing.pollIntervalMs, cancelAwaits);
}

/** Another request holds the resource: wait for it (or refuse, per policy). */
async function resourceBusy(step: Step, request: OpsRequest, holder: string): Promise<void> {
  const resource = resourceOf(step.action(request), request.args);
  if (step.policy(request).whenBusy === 'refuse') {
    // Plain text (escaped where it is shown), so no mention or time: `/ops status` of the holder
    // tells who asked for it and when.
    return step.finish(request, 'failed', {
      outcome: `\`${resource}\` on ${request.vendor}/${request.target} is busy: request \`${holder}\` holds it`,
    });
  }
  const other = await step.deps.store.get(holder);
  const who = other
    ? `\`${holder}\` (asked by <@${other.requester}>, started ${slackDate(other.startedAt ?? other.createdAt)})`
    : `\`${holder}\``;
  await step.post(request, {
    key: `waiting-for-${holder}`,
    kind: 'reply',
    message: section(
      `:lock: Waiting: ${who} is working on \`${escapeMrkdwn(resource)}\`; this starts when it ends.`,
    ),
  });
  return step.sleep(2_000 + Math.random() * 3_000);
}
