import { z } from 'zod';
import { VendorError } from '../../errors.js';
import { excerpt } from '../../slack/mrkdwn.js';
import { instantOf } from '../instant.js';
import { flag, pathSegment } from '../params.js';
import type { ActionDef, ActionProgress, TextLine } from '../types.js';
import type { EceClient, ResourceRef } from './client.js';
import { beforeMutation, VENDOR } from './errors.js';
import { type EceKind, KINDS, type PlanAttempt, type ResourceInfo } from './schemas.js';
import { attemptLabel, attemptSeconds, judgeAttempt, newestStep, stepLine } from './status.js';

/**
 * `ece.resource.restart`: `POST /deployments/{id}/{kind}/{refId}/_restart`, then follow the
 * resource's plan. There is no "plan activity" resource for this call, so the plan is followed
 * the way Elastic's tracker (cloud-sdk-go `pkg/plan`) does it:
 *   1. before the POST, note which plan attempts already exist;
 *   2. while `plan_info.pending` shows a new attempt, report its newest step;
 *   3. done when a new attempt has finished: it is `current` when it succeeded, and only in
 *      `history` when it failed (ECE keeps the last good plan current);
 *   4. right after the 202 the pending plan may not be visible yet, so a few polls that show
 *      neither a pending plan nor a new attempt are not "done" (ecctl tolerates 3).
 */

/** ECE deployment ids are 32 lowercase hex characters (what the console shows in its URLs). */
const DEPLOYMENT_ID = {
  regex: /^[0-9a-f]{32}$/,
  shape: 'an ECE deployment id (32 lowercase hex characters, e.g. 3f5a9c0e2b7d4e1f8a6b5c4d3e2f1a0b)',
};

/** How far ECE's clock may be behind ours when looking for the plan attempt a lost restart made. */
const CLOCK_SKEW_MS = 60_000;
/** Reads of the resource when looking for that attempt, and the pause between them. */
const FIND_LOOKS = 3;
const FIND_PAUSE_MS = 1_000;

/** Polls with neither a pending plan nor a new finished attempt before giving up on the restart. */
export const MAX_QUIET_POLLS = 4;

const KIND_LIST = KINDS.join(', ');

export const restartArgs = z.object({
  deploymentId: pathSegment('deployment id', DEPLOYMENT_ID),
  kind: z
    .string({ error: `kind is missing (one of ${KIND_LIST})` })
    .trim()
    .toLowerCase()
    .pipe(
      z.enum(KINDS, {
        error: (issue) =>
          `kind "${excerpt(String(issue.input))}" is not one of ${KIND_LIST} (Elasticsearch has its own restart, not offered here)`,
      }),
    ),
  refId: pathSegment('ref id').optional().default('_main'),
  // `flag` alone refuses an absent key in zod 4 ("expected nonoptional"); the default covers it.
  cancelPending: flag.default(false),
});
export type RestartArgs = z.infer<typeof restartArgs>;

/** What a poll needs from the start and earlier polls; stored with the job between polls. */
const memoSchema = z.object({
  /** The resource's real ref id (`_main` resolved before the POST). */
  refId: z.string(),
  /** Attempt ids that existed before the restart: current, pending (if cancelled), newest in history. */
  known: z.array(z.string()),
  /** Our attempt, once seen pending. */
  attemptId: z.string().nullable(),
  quietPolls: z.number().int(),
});
type RestartMemo = z.infer<typeof memoSchema>;

const WAITING = 'waiting for ECE to show the restart plan';

export const restartResource: ActionDef<RestartArgs, EceClient> = {
  id: 'ece.resource.restart',
  verb: 'restart',
  summary: 'Restart a stateless resource (Kibana, APM, App Search, Enterprise Search, Integrations Server)',
  params: [
    {
      name: 'deploymentId',
      kind: 'positional',
      label: '<deployment-id>',
      help: 'the deployment id (32 hex characters)',
    },
    { name: 'kind', kind: 'positional', label: '<kind>', help: `one of ${KIND_LIST}` },
    {
      name: 'refId',
      kind: 'positional',
      label: '<ref-id>',
      help: 'the resource ref id, e.g. main-kibana (default: the only resource of that kind)',
      optional: true,
    },
    {
      name: 'cancelPending',
      kind: 'flag',
      flag: '--cancel-pending',
      label: '',
      help: 'cancel a plan already in progress on the resource, then restart',
      optional: true,
    },
  ],
  args: restartArgs,
  examples: [
    'ece restart 3f5a9c0e2b7d4e1f8a6b5c4d3e2f1a0b kibana',
    'ece restart 3f5a9c0e2b7d4e1f8a6b5c4d3e2f1a0b apm main-apm --cancel-pending',
  ],
  mode: 'async',
  highRisk: false,
  timing: { pollIntervalMs: 5_000, deadlineMs: 30 * 60_000, firstPollDelayMs: 2_000 },

  describe(args) {
    return {
      fields: [
        { label: 'Deployment', value: args.deploymentId },
        { label: 'Resource', value: `${args.kind} ${refIdText(args.refId, args.kind)}` },
        {
          label: 'Effect',
          value:
            'an active resource restarts its instances (cluster_reboot); a stopped one is started with its last successful plan',
        },
        { label: 'Cancel pending plan', value: args.cancelPending ? 'yes (--cancel-pending)' : 'no' },
      ],
      warnings: args.cancelPending
        ? [
            `--cancel-pending: cancels the plan already in progress on this ${args.kind} resource (possibly someone else's change) before restarting`,
          ]
        : [],
    };
  },

  async dryRun(ctx, args) {
    const resource = await ctx.client.getResource(refOf(args, args.refId), { logs: true });
    const plans = resource.info.plan_info;
    const pending = plans?.pending;
    const name = `${args.kind}/${resource.ref_id}`;
    const state: TextLine[] = [
      `${name}${args.refId === '_main' ? ' (resolved from _main)' : ''}: status ${resource.info.status ?? 'unknown'}, ${healthText(resource.info.healthy)}`,
    ];
    if (pending) {
      const consequence = args.cancelPending
        ? '--cancel-pending would cancel it'
        : 'the restart will be refused while it runs (add --cancel-pending to cancel it)';
      state.push(
        `a plan is in progress: ${attemptLabel(pending)}, ${stepLine(newestStep(pending))}; ${consequence}`,
      );
    } else {
      state.push('no plan is in progress');
    }
    if (plans?.healthy === false) state.push('the last plan attempt on this resource failed');
    else if (plans?.current) {
      const end = plans.current.attempt_end_time;
      state.push([
        `last plan: ${attemptLabel(plans.current)} ended `,
        end ? instantOf(end) : '(time unknown)',
      ]);
    }
    return {
      call: ctx.client.describeRestart(refOf(args, resource.ref_id), args.cancelPending),
      currentState: state,
    };
  },

  async start(ctx, args) {
    let before: ResourceInfo;
    try {
      before = await ctx.client.getResource(refOf(args, args.refId), { history: true }, ctx.scope);
    } catch (error) {
      throw beforeMutation(error);
    }
    const plans = before.info.plan_info;
    const known = [plans?.current, plans?.pending, plans?.history?.at(-1)]
      .map((attempt) => attempt?.plan_attempt_id)
      .filter((id): id is string => typeof id === 'string');
    const memo: RestartMemo = {
      refId: before.ref_id,
      known: [...new Set(known)],
      attemptId: null,
      quietPolls: 0,
    };
    const warnings = await ctx.client.restart(refOf(args, before.ref_id), args.cancelPending, ctx.scope);
    ctx.log.info(
      { deploymentId: args.deploymentId, kind: args.kind, refId: before.ref_id },
      'ECE restart accepted',
    );
    return {
      outcome: 'running',
      status: 'accepted',
      detail: WAITING,
      notes: warnings.map(
        (warning) => `ECE warning ${warning.code}${warning.message ? `: ${warning.message}` : ''}`,
      ),
      memo,
    };
  },

  async findSubmitted(ctx, args, since) {
    // ECE may hold a new plan back for a moment after the 202: look a few times before saying no.
    for (let look = 1; ; look += 1) {
      const resource = await ctx.client.getResource(refOf(args, args.refId), { history: true }, ctx.scope);
      const plans = resource.info.plan_info;
      const attempts = [plans?.pending, plans?.current, ...(plans?.history ?? [])].filter(
        (attempt): attempt is PlanAttempt => attempt?.plan_attempt_id !== undefined,
      );
      const startedSince = (attempt: PlanAttempt) =>
        Date.parse(attempt.attempt_start_time ?? '') >= since - CLOCK_SKEW_MS;
      // The newest attempt that started since the restart was sent (a just-finished older plan of
      // someone else's is within the skew allowance only if nothing newer exists).
      const ours = attempts
        .filter(startedSince)
        .sort((a, b) => Date.parse(b.attempt_start_time ?? '') - Date.parse(a.attempt_start_time ?? ''))[0];
      if (ours) {
        const memo: RestartMemo = {
          refId: resource.ref_id,
          known: attempts.filter((attempt) => !startedSince(attempt)).map((a) => a.plan_attempt_id!),
          attemptId: ours.plan_attempt_id!,
          quietPolls: 0,
        };
        return {
          outcome: 'running',
          vendorJobId: memo.attemptId ?? undefined,
          status: resource.info.status ?? 'accepted',
          detail: `plan attempt ${attemptLabel(ours)}`,
          memo,
        };
      }
      if (look >= FIND_LOOKS) return undefined;
      await new Promise((resolve) => setTimeout(resolve, FIND_PAUSE_MS));
    }
  },

  async poll(ctx, args, last) {
    const memo = readMemo(last.memo);
    const ref = refOf(args, memo.refId);
    const resource = await ctx.client.getResource(ref, { logs: true }, ctx.scope);
    const plans = resource.info.plan_info;
    const pending = plans?.pending;
    const status = resource.info.status ?? last.status;

    if (pending && !memo.known.includes(pending.plan_attempt_id ?? '')) {
      const attemptId = pending.plan_attempt_id ?? memo.attemptId;
      return {
        outcome: 'running',
        vendorJobId: attemptId ?? undefined,
        status,
        detail: stepLine(newestStep(pending)),
        memo: { ...memo, attemptId },
      };
    }
    if (pending) {
      // The plan --cancel-pending is cancelling is still shown: ours has not started yet.
      return {
        outcome: 'running',
        status,
        detail: 'waiting for ECE to cancel the plan that was in progress',
        memo,
      };
    }

    const current = plans?.current;
    if (current && isOurs(current, memo)) return finished(args, memo, resource, current, plans?.healthy);
    // A failed attempt never becomes `current`; it sets `plan_info.healthy` to false ("the last
    // plan attempt failed", doc) and is only in the history, which can be large: read it only
    // then, or when our attempt was seen and someone else's plan has since become current.
    if (plans?.healthy !== true || memo.attemptId !== null) {
      const history = (await ctx.client.getResource(ref, { logs: true, history: true }, ctx.scope)).info
        .plan_info?.history;
      const ours = history?.findLast((attempt) => isOurs(attempt, memo));
      if (ours) return finished(args, memo, resource, ours, undefined);
    }

    const quietPolls = memo.quietPolls + 1;
    if (quietPolls > MAX_QUIET_POLLS) {
      return {
        outcome: 'failed',
        status: last.status,
        detail: 'no restart plan appeared',
        result: [
          `ECE accepted the restart of ${args.kind}/${memo.refId} but showed no new plan attempt after ${MAX_QUIET_POLLS} polls; check the deployment's activity in the ECE console`,
        ],
        memo: { ...memo, quietPolls },
      };
    }
    return { outcome: 'running', status: last.status, detail: WAITING, memo: { ...memo, quietPolls } };
  },

  async cancel(ctx, args, last) {
    const memo = readMemo(last.memo);
    const ref = refOf(args, memo.refId);
    const name = `${args.kind}/${memo.refId}`;
    const pending = (await ctx.client.getResource(ref, {}, ctx.scope)).info.plan_info?.pending;
    if (pending) {
      const id = pending.plan_attempt_id;
      if (id && (memo.known.includes(id) || (memo.attemptId !== null && id !== memo.attemptId))) {
        return `the plan in progress on ${name} (${attemptLabel(pending)}) is not opsbot's restart; it was left running`;
      }
    } else if (memo.attemptId !== null) {
      return `ECE shows no plan in progress on ${name}: the restart has already ended`;
    }
    // Pending and ours, or not shown yet (ECE may still hold it queued): ask ECE to cancel it.
    try {
      await ctx.client.cancelPendingPlan(ref, ctx.scope);
    } catch (error) {
      if (
        error instanceof VendorError &&
        error.vendorCode === 'deployments.resource_does_not_have_a_pending_plan'
      ) {
        return `ECE has no plan in progress on ${name}: nothing was cancelled`;
      }
      throw error;
    }
    return `ECE is cancelling the restart plan${pending ? ` ${attemptLabel(pending)}` : ''} on ${name}`;
  },
};

function refOf(args: RestartArgs, refId: string): ResourceRef {
  return { deploymentId: args.deploymentId, kind: args.kind, refId };
}

function refIdText(refId: string, kind: EceKind): string {
  return refId === '_main' ? `_main (the deployment's only ${kind} resource)` : refId;
}

function healthText(healthy: boolean | undefined): string {
  return healthy === undefined ? 'health unknown' : healthy ? 'healthy' : 'not healthy';
}

/** Ours: the attempt seen pending, or (never seen) any attempt that did not exist before the POST. */
function isOurs(attempt: PlanAttempt, memo: RestartMemo): boolean {
  const id = attempt.plan_attempt_id;
  if (!id) return false;
  return memo.attemptId ? id === memo.attemptId : !memo.known.includes(id);
}

function finished(
  args: RestartArgs,
  memo: RestartMemo,
  resource: ResourceInfo,
  attempt: PlanAttempt,
  planHealthy: boolean | undefined,
): ActionProgress {
  const verdict = judgeAttempt(attempt, planHealthy);
  const name = `${args.kind}/${memo.refId}`;
  const label = attemptLabel(attempt);
  const seconds = attemptSeconds(attempt);
  const warnings = (attempt.warnings ?? []).map(
    (warning) => `plan warning ${warning.code}${warning.message ? `: ${warning.message}` : ''}`,
  );
  const result =
    verdict.outcome === 'succeeded'
      ? [
          `${name} restarted: plan ${label} completed${seconds === undefined ? '' : ` in ${seconds} s`}; resource ${resource.info.status ?? 'status unknown'}, ${healthText(resource.info.healthy)}`,
        ]
      : [
          `plan ${label} on ${name} failed${verdict.failedStep ? ` at step \`${verdict.failedStep}\`` : ''}: ${verdict.reason}${verdict.failureType ? ` (failure type ${verdict.failureType})` : ''}`,
        ];
  return {
    outcome: verdict.outcome,
    vendorJobId: attempt.plan_attempt_id,
    status: resource.info.status ?? verdict.outcome,
    detail: stepLine(newestStep(attempt)),
    result: [...result, ...warnings],
    memo: { ...memo, attemptId: attempt.plan_attempt_id ?? memo.attemptId },
  };
}

function readMemo(memo: unknown): RestartMemo {
  const parsed = memoSchema.safeParse(memo);
  if (parsed.success) return parsed.data;
  throw new VendorError('opsbot lost the state of this ECE restart (its stored memo is unreadable)', {
    vendor: VENDOR,
    vendorCode: 'bad-memo',
  });
}
