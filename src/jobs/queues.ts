import { type ConnectionOptions, DelayedError, Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import type { RedisConnectionConfig } from '../config/load.js';
import { batchWritesPerTurn } from './write-batching.js';

/**
 * Queue names, job options and Redis connections, in one place.
 * - `opsbot-actions`: one `run` job per approved request (jobId `run-<request id>`), `expire`
 *   jobs (delayed until a request's approval window closes), `remind` and `escalate` jobs (delayed
 *   to their point in that window, see remind-request.ts), `lock-warning` jobs (delayed until
 *   shortly before a sticky lock expires), and the periodic `reconcile` and `seal-audit`
 *   (src/audit/sealer.ts).
 * - `opsbot-slack`: `deliver` jobs that drain a request's Slack outbox in order.
 * - `opsbot-commands`: one `command` job per slash command, recorded by the web process before it
 *   acknowledges and handled (parse, policy, request record, answer) by a worker.
 */

export const ACTIONS_QUEUE = 'opsbot-actions';
export const SLACK_QUEUE = 'opsbot-slack';
export const COMMANDS_QUEUE = 'opsbot-commands';

export const RUN_JOB = 'run';
export const EXPIRE_JOB = 'expire';
export const REMIND_JOB = 'remind';
export const ESCALATE_JOB = 'escalate';
export const RECONCILE_JOB = 'reconcile';
export const SEAL_AUDIT_JOB = 'seal-audit';
export const COMMAND_JOB = 'command';
/** Warns a sticky lock's holder shortly before it expires (src/calendar/lock-warning.ts). */
export const LOCK_WARNING_JOB = 'lock-warning';

/**
 * What a processor throws after `job.moveToDelayed`, so BullMQ leaves the job asleep in Redis.
 * BullMQ only looks at its type; one shared instance spares building an error, stack trace
 * included, at every poll.
 */
export const SLEEPING = new DelayedError();

/**
 * Finished jobs are kept for a week so a job id cannot be reused to run an action twice inside
 * that window (BullMQ only refuses a duplicate id while the old job still exists); the request
 * record's own state is the second guard after that.
 */
const KEEP_FINISHED = { age: 7 * 86_400, count: 100_000 };

/** The backoff between crash retries: BullMQ's exponential one (2 s, 4 s, 8 s…), see crashBackoff. */
const CRASH_BACKOFF = 'exp';

/**
 * What every job carries. BullMQ stores a job's options as JSON in the job's hash, and Redis keeps
 * a hash compact (listpack) only while each value is at most 64 bytes (hash-max-listpack-value):
 * a run job's, `{"attempts":5,"backoff":{"type":"exp"},"jobId":"run-op-…"}`, just fits, and its
 * hash takes half the memory of a hashtable. So what is the same for every job of a queue is set
 * on its workers instead (WORKER_OPTIONS).
 */
export const DEFAULT_JOB_OPTIONS = {
  // Attempts only count unexpected crashes inside a step; vendor faults and waits are handled by
  // the state machine with delays, which do not use attempts up.
  attempts: 5,
  backoff: { type: CRASH_BACKOFF },
} as const;

/** BullMQ's exponential backoff with a 2 s base, for jobs whose backoff is CRASH_BACKOFF. */
function crashBackoff(attemptsMade: number): number {
  return Math.round(2 ** (attemptsMade - 1) * 2_000);
}

/** Per queue, what its workers do with the jobs they finish, and the crash backoff. */
export const WORKER_OPTIONS = {
  actions: {
    removeOnComplete: KEEP_FINISHED,
    removeOnFail: KEEP_FINISHED,
    settings: { backoffStrategy: crashBackoff },
  },
  slack: {
    // A delivery job's id is unique per outbox item (the outbox itself refuses repeats), so
    // nothing relies on a finished one still existing: drop it at once rather than keep one per
    // message.
    removeOnComplete: { count: 0 },
    removeOnFail: KEEP_FINISHED,
    settings: { backoffStrategy: crashBackoff },
  },
  commands: {
    // A handled command leaves its request record (or its answer) behind; a repeat delivery of
    // the command is recognized by its trigger_id, not by the job.
    removeOnComplete: { count: 0 },
    removeOnFail: KEEP_FINISHED,
    settings: { backoffStrategy: crashBackoff },
  },
};

export interface RedisRole {
  /** Workers block on Redis and must retry forever; web processes must fail fast instead. */
  blocking: boolean;
}

/** A connection to standalone Redis, to the master behind Sentinel, or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * Every Redis connection opsbot makes comes from here, so each topology gets the same two
 * behaviours. BullMQ refuses a worker connection whose `maxRetriesPerRequest` is not null (on a
 * Cluster it reads `redisOptions`), see https://docs.bullmq.io/guide/going-to-production.
 */
export function createRedis(connection: RedisConnectionConfig, role: RedisRole): RedisClient {
  const maxRetriesPerRequest = role.blocking ? null : 2;
  const enableOfflineQueue = role.blocking;
  // Reconnect forever with a capped delay: Redis restarts and failovers must heal by themselves.
  const retryStrategy = (times: number) => Math.min(200 * 2 ** Math.min(times, 6), 5_000);
  const client = connect(connection, { maxRetriesPerRequest, enableOfflineQueue, retryStrategy });
  batchWritesPerTurn(client);
  return client;
}

function connect(
  connection: RedisConnectionConfig,
  options: {
    maxRetriesPerRequest: number | null;
    enableOfflineQueue: boolean;
    retryStrategy: (times: number) => number;
  },
): RedisClient {
  const { maxRetriesPerRequest, enableOfflineQueue, retryStrategy } = options;
  switch (connection.mode) {
    case 'standalone':
      return new Redis(connection.url, { ...options, password: connection.password?.reveal() });
    case 'sentinel':
      return new Redis({
        sentinels: connection.sentinels,
        name: connection.masterName,
        sentinelPassword: connection.sentinelPassword?.reveal(),
        password: connection.password?.reveal(),
        sentinelRetryStrategy: retryStrategy,
        maxRetriesPerRequest,
        enableOfflineQueue,
        retryStrategy,
      });
    case 'cluster':
      return new Cluster(connection.nodes, {
        enableOfflineQueue,
        clusterRetryStrategy: retryStrategy,
        redisOptions: { maxRetriesPerRequest, password: connection.password?.reveal() },
      });
  }
}

export interface Queues {
  actions: Queue;
  slack: Queue;
  commands: Queue;
  /** Every queue, for the dashboard, metrics and error listeners. */
  all: Queue[];
  close(): Promise<void>;
}

/**
 * BullMQ's event stream feeds QueueEvents listeners, which opsbot has none of (nor does the
 * bull-board dashboard, which reads the queues themselves); its default length (10,000 events per
 * queue) would be Redis memory spent on nothing. A short tail is kept to look at by hand.
 */
const EVENTS_KEPT = 100;

export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  const streams = { events: { maxLen: EVENTS_KEPT } };
  const actions = new Queue(ACTIONS_QUEUE, {
    connection,
    prefix,
    streams,
    defaultJobOptions: DEFAULT_JOB_OPTIONS,
  });
  const slack = new Queue(SLACK_QUEUE, {
    connection,
    prefix,
    streams,
    defaultJobOptions: DEFAULT_JOB_OPTIONS,
  });
  const commands = new Queue(COMMANDS_QUEUE, {
    connection,
    prefix,
    streams,
    defaultJobOptions: DEFAULT_JOB_OPTIONS,
  });
  const all = [actions, slack, commands];
  return {
    actions,
    slack,
    commands,
    all,
    close: async () => {
      await Promise.all(all.map((queue) => queue.close()));
    },
  };
}
