import { toOpsError } from '../../errors.js';
import type { OpsRequest } from '../../requests/types.js';
import { progressReply, section } from '../../slack/blocks.js';
import { escapeMrkdwn } from '../../slack/mrkdwn.js';
import type { ActionProgress } from '../../vendors/types.js';
import { outcomeState, type Step, SUPERSEDED } from './step.js';

/**
 * The follow phase: read the vendor's job once per step, report each new status in the thread,
 * and end when the vendor says it is over, when the deadline passes, or after `/ops cancel`.
 */

/**
 * How a run that outlived its deadline ends. The closing reply adds the vendor's job and its last
 * status, so the outcome does not repeat them.
 */
export const STOPPED_WAITING = "opsbot stopped waiting at the action's deadline; the vendor's work may go on";

export async function poll(step: Step, request: OpsRequest): Promise<void> {
  const action = step.action(request);
  const last = request.progress!;
  if (last.outcome !== 'running') return step.finish(request, outcomeState(last), {});
  const deadlineAt = request.deadlineAt ?? Number.POSITIVE_INFINITY;
  if (Date.now() >= deadlineAt) return step.finish(request, 'timed_out', { outcome: STOPPED_WAITING });
  let next: ActionProgress;
  try {
    next = await action.poll!(step.context(request), request.args, last);
  } catch (error) {
    const failure = toOpsError(error);
    if (!failure.retryable) {
      step.logFailure(failure);
      return step.finish(request, 'failed', { outcome: failure.message });
    }
    step.log.warn(
      { err: failure.message, faults: request.faults },
      'polling the vendor failed; will try again',
    );
    // The resource lock's lease is renewed by the step's write, after the call.
    return step.retryLater(request, failure, { until: deadlineAt, lease: 'renew' });
  }
  const changed = next.status !== last.status || next.detail !== last.detail;
  const retried = step.retried(request);
  const fields = {
    faults: 0,
    reported: changed ? request.reported + 1 : request.reported,
    ...retried.fields,
  };
  const status = changed
    ? { kind: 'status', text: `${next.status}${next.detail ? `: ${next.detail}` : ''}` }
    : undefined;
  // The vendor says the work is over: the status and the end are one write.
  if (next.outcome !== 'running')
    return step.finish({ ...request, ...fields, progress: next }, outcomeState(next), {}, status);
  const cancelAwaits = await step.record(request, { ...fields, progress: next }, status, {
    // Keyed by its number, so a step repeated after a crash queues it once.
    items: [
      ...(changed
        ? [
            {
              key: `progress-${request.reported + 1}`,
              kind: 'reply' as const,
              message: progressReply(request, next, false),
            },
          ]
        : []),
      ...retried.items,
    ],
    lease: 'renew',
  });
  // Woken at the deadline at the latest, to end it then rather than up to a poll interval later.
  return step.sleep(Math.min(step.timing(request).pollIntervalMs, deadlineAt - Date.now()), cancelAwaits);
}

/**
 * Acts on `/ops cancel` for a running action. Where the vendor can cancel, ask it once (the
 * attempt is recorded right before the vendor's cancel call is sent, like a submission) and keep
 * polling: the vendor's own end state says whether it stopped. Where it cannot, stop following
 * and say the work may go on.
 */
export async function cancel(step: Step, request: OpsRequest): Promise<void> {
  const action = step.action(request);
  const who = request.cancelRequestedBy!;
  const last = request.progress!;
  if (!action.cancel || last.outcome !== 'running') {
    // The closing reply names the vendor's job and its last status.
    return step.finish(request, 'cancelled', {
      outcome: `opsbot stopped following it; ${request.vendor} cannot cancel this work, so it may go on`,
      cancelledBy: who,
    });
  }
  let sending = false;
  const beforeMutation = async () => {
    if (sending) return;
    await step.write(
      request,
      { vendorCancel: 'sending' },
      { kind: 'vendor-call', text: `asking ${request.vendor} to cancel` },
    );
    sending = true;
  };
  // What the vendor said is plain text: the timeline keeps it as said, the reply escapes it.
  let answer: { text: string; reply: string };
  let vendorCancel: 'sent' | 'refused';
  try {
    const said = await action.cancel(step.context(request, beforeMutation), request.args, last);
    answer = {
      text: `Asked ${request.vendor} to cancel: ${said}`,
      reply: `:octagonal_sign: Asked ${request.vendor} to cancel: ${escapeMrkdwn(said)}`,
    };
    vendorCancel = 'sent';
  } catch (error) {
    if (error === SUPERSEDED) throw error;
    const failure = toOpsError(error);
    step.logFailure(failure);
    const refused = (message: string) =>
      `${request.vendor} did not take the cancel: ${message}. opsbot keeps following the action.`;
    answer = {
      text: refused(failure.message),
      reply: `:warning: ${refused(escapeMrkdwn(failure.message))}`,
    };
    vendorCancel = 'refused';
  }
  await step.record(
    request,
    { vendorCancel },
    { kind: 'vendor-cancel', text: answer.text },
    { items: [{ key: 'vendor-cancel', kind: 'reply', message: section(answer.reply) }] },
  );
  return step.sleep(0);
}
