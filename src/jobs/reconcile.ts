import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { RequestStore } from '../requests/store.js';
import { type Queues, RUN_JOB } from './queues.js';

/**
 * Queues the run job of every approved request whose enqueue did not happen (a web process that
 * died between recording the approval and adding the job). Adding is idempotent: the job id is
 * derived from the request id.
 */
export async function enqueueRun(actions: Queue, requestId: string): Promise<void> {
  await actions.add(RUN_JOB, { requestId }, { jobId: runJobId(requestId) });
}

/** One run job per request: its id is derived from the request id, so a second add is a no-op. */
export function runJobId(requestId: string): string {
  return `run-${requestId}`;
}

export function createReconcileProcessor(deps: { store: RequestStore; queues: Queues; log: Logger }) {
  return async (): Promise<void> => {
    for (const requestId of await deps.store.pendingEnqueues()) {
      const request = await deps.store.get(requestId);
      if (request?.state === 'approved') {
        deps.log.warn(
          { requestId, correlationId: request.correlationId },
          'approved request had no run job; queueing it now',
        );
        await enqueueRun(deps.queues.actions, requestId);
      }
      await deps.store.enqueued(requestId);
    }
  };
}
