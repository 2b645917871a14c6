import type { Logger } from 'pino';
import type { RequestStore } from '../requests/store.js';
import type { CallScope, VendorCallRecord } from '../vendors/http.js';

/**
 * Every vendor call goes into the audit trail: method, path (never the query, which may carry a
 * token), HTTP status or network error, duration and the vendor's request id, under the request
 * it was made for (its `scope`; none for token mints, dry runs and reads). A successful read (a
 * job poll) goes to the audit trail only, and inside a run step it is written with the step's
 * record; writes and failures also go to the request's timeline, at once.
 */
export function auditVendorCall(
  store: RequestStore,
  call: VendorCallRecord,
  scope: CallScope | undefined,
  log: Logger,
): void {
  const outcome = call.status === undefined ? (call.errorCode ?? 'error') : `HTTP ${call.status}`;
  const vendorRequest = call.vendorRequestId ? `, vendor request id ${call.vendorRequestId}` : '';
  const text = `${call.vendor}/${call.target} ${call.method} ${call.path} → ${outcome} in ${Math.round(call.durationMs)} ms${vendorRequest}`;
  const routineRead = call.method === 'GET' && call.status !== undefined && call.status < 400;
  if (routineRead && scope?.deferredAudit) {
    scope.deferredAudit.push({ kind: 'vendor-call', text });
    return;
  }
  store.audit({ kind: 'vendor-call', text }, scope?.requestId, !routineRead).catch((error: Error) => {
    log.warn({ err: error.message }, 'could not record a vendor call in the audit trail');
  });
}
