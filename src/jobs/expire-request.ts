import type { Job } from 'bullmq';
import type { Metrics } from '../observability/metrics.js';
import type { RequestStore } from '../requests/store.js';
import { Outbox } from '../slack/outbox.js';
import { requesterDm } from '../slack/requester-dm.js';

/**
 * Fires when a request's approval window closes, whether or not anyone clicked: a pending request
 * becomes expired and its message says so. Anything already decided is left alone. Run by the
 * request's `expire` job, and by the reconciler should that job have been lost.
 */
export function createExpirer(deps: { store: RequestStore; outbox: Outbox; metrics: Metrics }) {
  return async (requestId: string): Promise<void> => {
    const result = await deps.store.transition(
      requestId,
      ['pending'],
      'expired',
      { kind: 'expired', text: 'nobody approved it in time' },
      { decidedAt: Date.now(), finishedAt: Date.now(), phase: 'done' },
    );
    const request = await deps.store.get(requestId);
    if (request?.state !== 'expired') return;
    if (result.ok) deps.metrics.requests.inc({ action: request.actionId, outcome: 'expired' });
    await deps.outbox.push(requestId, Outbox.root(request.version), ...requesterDm(request));
  };
}

export function createExpireProcessor(deps: { store: RequestStore; outbox: Outbox; metrics: Metrics }) {
  const expire = createExpirer(deps);
  return async (job: Job<{ requestId: string }>): Promise<void> => expire(job.data.requestId);
}
