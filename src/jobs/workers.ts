import { type Job, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { AuditChainStore } from '../audit/chain-store.js';
import { createAuditSealer } from '../audit/sealer.js';
import { createLockWarner } from '../calendar/lock-warning.js';
import { createCommandProcessor, type OpsCommandDeps } from '../commands/ops-command.js';
import { createDeliverProcessor, type DeliverDeps, type DeliverNow } from './deliver-slack.js';
import { createExpireProcessor, createExpirer } from './expire-request.js';
import {
  ACTIONS_QUEUE,
  COMMANDS_QUEUE,
  ESCALATE_JOB,
  EXPIRE_JOB,
  LOCK_WARNING_JOB,
  type Queues,
  RECONCILE_JOB,
  REMIND_JOB,
  type RedisClient,
  RUN_JOB,
  SEAL_AUDIT_JOB,
  SLACK_QUEUE,
  WORKER_OPTIONS,
} from './queues.js';
import { createReconcileProcessor } from './reconcile.js';
import { createFollowUpProcessor } from './remind-request.js';
import { createRunEnder, createRunProcessor, type RunDeps } from './run/processor.js';

/** The worker half of opsbot: one BullMQ worker per queue, and a bounded, graceful close. */

const UNLIMITED_STALLS = Number.MAX_SAFE_INTEGER;

export interface WorkersOptions {
  connection: RedisClient;
  prefix: string;
  concurrency: number;
  slackConcurrency: number;
  lockDuration: number;
  stalledInterval: number;
  queues: Queues;
  run: RunDeps;
  deliver: DeliverDeps;
  /** Delivers a request's queued Slack messages where they were queued (createInlineDelivery). */
  deliverNow: DeliverNow;
  commands: OpsCommandDeps;
  log: Logger;
  /** How often the reconciler runs (jobs/reconcile.ts). Default 15 s. */
  reconcileEveryMs?: number;
  /** The audit chain the sealer extends, and how often it runs (audit/sealer.ts). */
  audit: { chain: AuditChainStore; sealEveryMs: number };
}

export interface Workers {
  /** True while every worker is running (for /readyz). */
  running(): boolean;
  /** Stops taking jobs, lets active steps finish for up to `graceMs`, then hands the rest back. */
  close(graceMs: number): Promise<void>;
}

export async function startWorkers(options: WorkersOptions): Promise<Workers> {
  const run = createRunProcessor(options.run, options.deliverNow);
  const end = createRunEnder(options.run);
  const expire = createExpireProcessor(options.run);
  const followUp = createFollowUpProcessor(options.run);
  const warnLockHolder = createLockWarner({
    calendar: options.commands.calendar,
    writer: options.deliver.writer,
    command: options.commands.config.slack.command,
    log: options.log,
  });
  const reconcile = createReconcileProcessor({
    store: options.run.store,
    outbox: options.run.outbox,
    queues: options.queues,
    policy: options.run.policy,
    log: options.log,
    end,
    expire: createExpirer(options.run),
  });
  const seal = createAuditSealer(options.audit.chain, options.log);
  /** What every worker shares; `queue` picks the finished-job policy and crash backoff. */
  const settings = (queue: keyof typeof WORKER_OPTIONS, concurrency: number) => ({
    ...WORKER_OPTIONS[queue],
    connection: options.connection,
    prefix: options.prefix,
    concurrency,
    lockDuration: options.lockDuration,
    stalledInterval: options.stalledInterval,
    // A stall (its worker died or paused past its lock) is never the job's fault: another worker
    // takes it over, however often that happens. BullMQ's default (1) fails a job on its second
    // stall, and never resets the count for a run job that lives across many polls; steps are
    // safe to repeat, and the deadline (enforced by the reconciler too) bounds a run however its
    // workers fare.
    maxStalledCount: UNLIMITED_STALLS,
    autorun: false,
  });
  const actions = new Worker(
    ACTIONS_QUEUE,
    async (job: Job, token?: string) => {
      switch (job.name) {
        case RUN_JOB:
          return run(job, token);
        case EXPIRE_JOB:
          return expire(job);
        case REMIND_JOB:
        case ESCALATE_JOB:
          return followUp(job);
        case RECONCILE_JOB:
          return reconcile();
        case SEAL_AUDIT_JOB:
          return seal();
        case LOCK_WARNING_JOB:
          return warnLockHolder(job);
        default:
          options.log.warn({ job: job.name }, 'unknown job name; ignored');
      }
    },
    settings('actions', options.concurrency),
  );
  const slack = new Worker(
    SLACK_QUEUE,
    createDeliverProcessor(options.deliver),
    settings('slack', options.slackConcurrency),
  );
  const commands = new Worker(
    COMMANDS_QUEUE,
    createCommandProcessor(options.commands),
    settings('commands', options.concurrency),
  );
  const all = [actions, slack, commands];
  for (const worker of all) {
    worker.on('error', (error) => options.log.error({ err: error, queue: worker.name }, 'worker error'));
    worker.on('failed', (job, error) => {
      options.log.error({ err: error, job: job?.id, attempts: job?.attemptsMade }, 'job step failed');
      if (job?.name === RUN_JOB && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        end((job.data as { requestId: string }).requestId, 'gave-up').catch((failure: Error) =>
          options.log.error({ err: failure, job: job.id }, 'could not record the end of a failed run'),
        );
      }
    });
  }
  // Each run gets a new job id, so nothing needs a finished one: kept like the others, a week of
  // them (40,000 at one every 15 s) would hold tens of MB of Redis.
  await options.queues.actions.upsertJobScheduler(
    'reconcile-enqueues',
    { every: options.reconcileEveryMs ?? 15_000 },
    { name: RECONCILE_JOB, data: {}, opts: { removeOnComplete: true } },
  );
  await options.queues.actions.upsertJobScheduler(
    'seal-audit',
    { every: options.audit.sealEveryMs },
    { name: SEAL_AUDIT_JOB, data: {}, opts: { removeOnComplete: true } },
  );
  for (const worker of all) void worker.run();
  await Promise.all(all.map((worker) => worker.waitUntilReady()));

  return {
    running: () => all.every((worker) => worker.isRunning()),
    close: async (graceMs) => {
      const closing = Promise.all(all.map((worker) => worker.close()));
      const timedOut = await Promise.race([
        closing.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref()),
      ]);
      if (timedOut) {
        // Active steps did not finish in time: stop waiting. Their locks lapse and another worker
        // picks them up as stalled; every step is safe to repeat.
        options.log.warn({ graceMs }, 'steps still active at shutdown; handing them back');
        await Promise.all(all.map((worker) => worker.close(true)));
      }
    },
  };
}
