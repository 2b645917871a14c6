import type { Queue } from 'bullmq';
import { Router } from 'express';
import type { Queues, RedisClient } from '../jobs/queues.js';
import { runJobId } from '../jobs/reconcile.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * `/healthz`: the process is up. `/readyz`: Redis answers and, where this process runs the
 * worker, the worker is running. `/metrics`: Prometheus text, with queue depths read at scrape time.
 */
export function healthRoutes(deps: {
  redis: RedisClient;
  metrics: Metrics;
  queues: Queues;
  workerRunning: () => boolean;
}): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const ping = deps.redis.ping().then(
      () => true,
      () => false,
    );
    const redis = await within(ping, REDIS_TIMEOUT_MS);
    const worker = deps.workerRunning();
    const reasons = [
      ...(redis ? [] : [`Redis did not answer PING within ${REDIS_TIMEOUT_MS} ms`]),
      ...(worker ? [] : ['the worker is not running']),
    ];
    if (reasons.length === 0) {
      res.json({ status: 'ready', redis, worker });
      return;
    }
    res.status(503).json({ status: 'not ready', redis, worker, reason: reasons.join('; ') });
  });
  router.get('/metrics', async (_req, res) => {
    const refresh = async () => {
      for (const queue of deps.queues.all) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
        for (const [state, count] of Object.entries(counts))
          deps.metrics.queueDepth.set({ queue: queue.name, state }, count);
      }
      deps.metrics.inFlight.set(await actionsInFlight(deps.redis, deps.queues.actions));
      return true;
    };
    // Redis down: serve what we have; /readyz reports the outage.
    await within(
      refresh().catch(() => false),
      REDIS_TIMEOUT_MS,
    );
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
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

/** A worker-only process's connection queues commands while Redis is away: never wait on it. */
const REDIS_TIMEOUT_MS = 1_000;

/** The answer, or false when it takes longer than `ms`. */
async function within(answer: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
