/**
 * Coded errors. Every failure that can reach a person carries a stable `code`, one readable
 * sentence (`message`, safe for Slack: no secrets, no raw HTML, no stack) and whether trying
 * again later can help. One function (`toOpsError`) turns anything thrown into one of these.
 */

/** Whether a failed vendor call may have changed something on the vendor side. */
export type Delivery =
  /** The request never left this process or was refused before processing (safe to send again). */
  | 'not-sent'
  /** The request may or may not have been processed (timeout after sending, reset mid-answer). */
  | 'uncertain'
  /** The vendor answered: what it said is final for this request. */
  | 'answered';

export interface OpsErrorOptions {
  /** Trying again later may succeed (network fault, 429, 503, lock held). */
  retryable?: boolean;
  /** The peer asked us to wait this long before trying again (Retry-After). */
  retryAfterMs?: number;
  delivery?: Delivery;
  cause?: unknown;
}

export class OpsError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly delivery: Delivery;

  constructor(code: string, message: string, options: OpsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OpsError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.delivery = options.delivery ?? 'answered';
  }
}

/** What a person typed cannot be run; `usage` says how to write it. */
export class InputError extends OpsError {
  readonly usage: string | undefined;
  constructor(message: string, usage?: string) {
    super('input.invalid', message);
    this.name = 'InputError';
    this.usage = usage;
  }
}

export interface VendorErrorDetails extends OpsErrorOptions {
  vendor: string;
  /** The vendor's own error code (e.g. `deployments.deployment_not_found`, `WKS.00129901`, 498). */
  vendorCode?: string | number;
  httpStatus?: number;
  /** The vendor's request id (X-Request-Id, requestID), kept for the audit trail. */
  requestId?: string;
}

/** A vendor said no, or could not be reached. The message already names the vendor's code. */
export class VendorError extends OpsError {
  readonly vendor: string;
  readonly vendorCode: string | undefined;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;

  constructor(message: string, details: VendorErrorDetails) {
    const code = `vendor.${details.vendor}.${details.vendorCode ?? details.httpStatus ?? 'error'}`;
    super(code, message, details);
    this.name = 'VendorError';
    this.vendor = details.vendor;
    this.vendorCode = details.vendorCode === undefined ? undefined : String(details.vendorCode);
    this.httpStatus = details.httpStatus;
    this.requestId = details.requestId;
  }
}

/** Turns anything thrown into an OpsError without leaking internals into its message. */
export function toOpsError(error: unknown): OpsError {
  if (error instanceof OpsError) return error;
  return new OpsError('internal', 'opsbot hit an internal error; the details are in its logs.', {
    cause: error,
  });
}
