import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The request a piece of work belongs to, carried implicitly through async calls so that log
 * lines and vendor-call audit records made deep inside a vendor client still name it.
 */
export interface WorkContext {
  requestId: string;
  correlationId: string;
  /**
   * Audit events of routine vendor reads (job polls) made in this step, written with the step's
   * own record (RequestStore.patch) rather than each on its own. Absent outside run steps.
   */
  deferredAudit?: Array<{ kind: string; text: string }>;
}

export const workContext = new AsyncLocalStorage<WorkContext>();
