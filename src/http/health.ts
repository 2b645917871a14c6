import { Router } from 'express';
import type { RedisClient } from '../jobs/queues.js';
import type { Metrics } from '../observability/metrics.js';
import type { QueueFigures } from '../observability/queue-figures.js';

/**
 * `/healthz`: the process is up. `/readyz`: Redis answers and, where this process runs the
 * worker, the worker is running. `/metrics`: Prometheus text, with the queue figures read from
 * Redis when they are older than their maximum age (see QueueFigures).
 */
export function healthRoutes(deps: {
  redis: RedisClient;
  metrics: Metrics;
  queueFigures: QueueFigures;
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
    // Redis down: serve what we have; /readyz reports the outage.
    await within(
      deps.queueFigures.refresh().then(
        () => true,
        () => false,
      ),
      REDIS_TIMEOUT_MS,
    );
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}

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
