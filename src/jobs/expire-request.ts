import type { Job } from 'bullmq';
import type { Metrics } from '../observability/metrics.js';
import type { RequestStore } from '../requests/store.js';
import type { OpsRequest } from '../requests/types.js';
import { Outbox } from '../slack/outbox.js';
import { requesterDm } from '../slack/requester-dm.js';

/**
 * Fires when a request's approval window closes, whether or not anyone clicked: a pending request
 * becomes expired and its message says so. Anything already decided is left alone. Run by the
 * request's `expire` job, and by the reconciler should that job have been lost.
 *
 * The root update and the requester's DM are queued by the expiring write itself, so a request
 * never ends without its messages; only the delivery job is added after it. A retry after a crash
 * finds the request expired and adds the delivery job again (an empty outbox costs nothing).
 */
export function createExpirer(deps: { store: RequestStore; outbox: Outbox; metrics: Metrics }) {
  return async (requestId: string): Promise<void> => {
    const request = await deps.store.get(requestId);
    if (request?.state === 'pending') {
      const now = Date.now();
      const fields = { decidedAt: now, finishedAt: now, phase: 'done' as const };
      // The request as the transition leaves it (its script bumps the version by one).
      const expired: OpsRequest = { ...request, ...fields, state: 'expired', version: request.version + 1 };
      const result = await deps.store.transition(
        requestId,
        ['pending'],
        'expired',
        { kind: 'expired', text: 'nobody approved it in time' },
        fields,
        { outbox: deps.outbox.batch(requestId, Outbox.root(expired.version), ...requesterDm(expired)) },
      );
      if (result.ok) deps.metrics.requests.inc({ action: request.actionId, outcome: 'expired' });
      else if (result.state !== 'expired') return;
    } else if (request?.state !== 'expired') {
      return;
    }
    await deps.outbox.kick(requestId);
  };
}

export function createExpireProcessor(deps: { store: RequestStore; outbox: Outbox; metrics: Metrics }) {
  const expire = createExpirer(deps);
  return async (job: Job<{ requestId: string }>): Promise<void> => expire(job.data.requestId);
}
