import { Router } from 'express';
import type { Redis } from 'ioredis';
import type { Queues } from '../jobs/queues.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * `/healthz`: the process is up. `/readyz`: Redis answers and, where this process runs the
 * worker, the worker is running. `/metrics`: Prometheus text, with queue depths read at scrape time.
 */
export function healthRoutes(deps: {
  redis: Redis;
  metrics: Metrics;
  queues: Queues;
  workerRunning: () => boolean;
}): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const redis = await deps.redis
      .ping()
      .then(() => true)
      .catch(() => false);
    const worker = deps.workerRunning();
    res
      .status(redis && worker ? 200 : 503)
      .json({ status: redis && worker ? 'ready' : 'not ready', redis, worker });
  });
  router.get('/metrics', async (_req, res) => {
    try {
      for (const queue of [deps.queues.actions, deps.queues.slack]) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
        for (const [state, count] of Object.entries(counts))
          deps.metrics.queueDepth.set({ queue: queue.name, state }, count);
      }
      deps.metrics.inFlight.set(await deps.queues.actions.getJobCountByTypes('active', 'delayed', 'waiting'));
    } catch {
      // Redis down: serve what we have; /readyz reports the outage.
    }
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}
