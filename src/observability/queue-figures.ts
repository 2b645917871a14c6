import type { Queue } from 'bullmq';
import type { AuditChainStore } from '../audit/chain-store.js';
import type { Calendar } from '../calendar/calendar.js';
import type { Queues, RedisClient } from '../jobs/queues.js';
import { runJobId } from '../jobs/reconcile.js';
import type { Metrics } from './metrics.js';

/**
 * The figures `/metrics` reads from Redis (jobs by queue and state, actions in flight, audit
 * records not sealed yet, freezes, sticky locks and scheduled actions), read at
 * most once per `maxAgeMs`: a scrape while they are fresh costs Redis nothing, and scrapes that
 * arrive together while they are stale share one read. So however many scrapers there are and
 * however often they come, Redis does the same work.
 */
export class QueueFigures {
  readonly #deps: QueueFiguresDeps;
  #readAt = Number.NEGATIVE_INFINITY;
  #reading: Promise<void> | undefined;

  constructor(deps: QueueFiguresDeps) {
    this.#deps = deps;
  }

  /** Brings the gauges up to date unless they are fresh; rejects if Redis does not answer. */
  refresh(): Promise<void> {
    if (this.#reading) return this.#reading;
    const now = Date.now();
    if (now - this.#readAt < this.#deps.maxAgeMs) return Promise.resolve();
    this.#reading = this.#read()
      .then(() => {
        this.#readAt = now;
      })
      .finally(() => {
        this.#reading = undefined;
      });
    return this.#reading;
  }

  async #read(): Promise<void> {
    const { queues, metrics, redis, auditChain } = this.#deps;
    for (const queue of queues.all) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
      for (const [state, count] of Object.entries(counts))
        metrics.queueDepth.set({ queue: queue.name, state }, count);
    }
    metrics.inFlight.set(await actionsInFlight(redis, queues.actions));
    metrics.auditUnsealed.set(await auditChain.unsealedCount());
    const calendar = await this.#deps.calendar.figures(Date.now());
    metrics.freezesActive.set(calendar.freezes);
    metrics.locksHeld.set(calendar.locks);
    metrics.actionsScheduled.set(calendar.scheduled);
  }
}

export interface QueueFiguresDeps {
  redis: RedisClient;
  queues: Queues;
  auditChain: AuditChainStore;
  metrics: Metrics;
  /** Freezes, sticky locks and scheduled actions (src/calendar/). */
  calendar: Pick<Calendar, 'figures'>;
  /** How old the figures may be before the next scrape reads them again. */
  maxAgeMs: number;
}

/**
 * Run jobs (one per approved request) that are waiting, active or delayed between polls. The
 * actions queue also holds each request's expiry timer and the reconcile schedule, which are not
 * actions, so the queue's own counts would overstate it. Counted in Redis: only a number travels.
 */
async function actionsInFlight(redis: RedisClient, actions: Queue): Promise<number> {
  const { wait, paused, prioritized, active, delayed } = actions.keys;
  const keys = [wait, paused, prioritized, active, delayed].filter((key) => key !== undefined);
  return Number(await redis.eval(COUNT_BY_ID_PREFIX, keys.length, ...keys, runJobId('')));
}

/** KEYS: BullMQ's job lists and sorted sets; ARGV[1]: a job id prefix. Returns how many ids have it. */
const COUNT_BY_ID_PREFIX = `
local n = 0
for _, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  local ids = {}
  if kind == 'list' then ids = redis.call('LRANGE', key, 0, -1)
  elseif kind == 'zset' then ids = redis.call('ZRANGE', key, 0, -1) end
  for _, id in ipairs(ids) do
    if string.sub(id, 1, #ARGV[1]) == ARGV[1] then n = n + 1 end
  end
end
return n`;
