import { readFileSync } from 'node:fs';
import { Agent, type Dispatcher, request as undiciRequest } from 'undici';
import { formatSize } from '../config/size.js';
import { VendorError } from '../errors.js';

/**
 * The one way opsbot talks HTTP to a vendor: one undici Agent per target (so a CA file or an
 * insecure switch applies to that target alone, never globally), a connect timeout and a total
 * timeout on every call, a cap on the size of an answer, and network failures turned into
 * VendorErrors that say whether the request may have reached the vendor.
 */

export interface TargetTls {
  /** PEM file with the CA that signed this target's certificate (self-signed appliances). */
  caFile?: string | undefined;
  /** Skip certificate checks for this target only. Logged as a warning at start. */
  insecureSkipVerify?: boolean | undefined;
}

export interface HttpTimeouts {
  /** Time allowed to open the TCP/TLS connection. Default 10 s. */
  connectMs: number;
  /** Time allowed for the whole call, answer body included. Default 60 s. */
  requestMs: number;
}

/** One finished vendor call, for metrics and the audit trail. Never holds a secret. */
export interface VendorCallRecord {
  vendor: string;
  target: string;
  method: string;
  /** Path only: query strings may carry tokens (ArcGIS) and are never recorded. */
  path: string;
  status: number | undefined;
  durationMs: number;
  vendorRequestId: string | undefined;
  errorCode: string | undefined;
}

/**
 * Whom a vendor call is made for: a run step's request, named in the call's audit record. Passed
 * down explicitly (ActionContext, client method, HttpCall) rather than found through an
 * AsyncLocalStorage, whose promise hooks cost a run step ≈12% of its CPU on Node 20 (measured).
 */
export interface CallScope {
  requestId: string;
  /**
   * Called right before a call that changes something at the vendor (`HttpCall.mutates`) is sent,
   * and again before a resend of it (a retry after a token was refused): the run step records
   * there that the call's fate is about to become uncertain, and may refuse it by throwing (the
   * resource is busy, or another worker owns the step now). Reads before it stay safe to repeat.
   */
  beforeMutation?: (() => Promise<void>) | undefined;
  /**
   * Audit events of the step's routine vendor reads (job polls), written with the step's own
   * record (RequestStore.patch) rather than each on its own.
   */
  deferredAudit?: Array<{ kind: string; text: string }>;
}

export type VendorCallObserver = (call: VendorCallRecord, scope: CallScope | undefined) => void;

export interface VendorHttpOptions {
  vendor: string;
  target: string;
  baseUrl: string;
  tls?: TargetTls | undefined;
  timeouts?: Partial<HttpTimeouts> | undefined;
  observer?: VendorCallObserver | undefined;
  /** Response header holding the vendor's request id, e.g. `x-request-id`. */
  requestIdHeader?: string | undefined;
  /** The largest answer body read. Default DEFAULT_MAX_RESPONSE_BYTES. */
  maxResponseBytes?: number | undefined;
}

export interface HttpCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Path under the base URL (`/admin/jobs/x`), or an absolute URL on the same origin. */
  path: string;
  query?: Record<string, string | number | boolean | undefined> | undefined;
  headers?: Record<string, string> | undefined;
  body?: string | Buffer | undefined;
  /** Overrides the target's total timeout for this call (slow synchronous vendor calls). */
  timeoutMs?: number | undefined;
  /** The run step the call is made for, if any. */
  scope?: CallScope | undefined;
  /**
   * The call changes something at the vendor (starts a job, cancels one): the scope's
   * `beforeMutation` runs before it is sent. Reads, token grants and listings leave it unset.
   */
  mutates?: boolean | undefined;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  contentType: string;
  text: string;
  /** The URL that was called, without its query string. */
  url: string;
}

const DEFAULT_TIMEOUTS: HttpTimeouts = { connectMs: 10_000, requestMs: 60_000 };

/**
 * 1 MiB: every answer opsbot reads (a job, a plan, a page of 100 domains) is a few KiB; anything
 * far larger is a misbehaving proxy or vendor, and must not cost the worker its memory.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Error codes that prove the request never reached the vendor. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
]);

export class VendorHttp {
  readonly vendor: string;
  readonly target: string;
  readonly baseUrl: URL;
  readonly #agent: Agent;
  readonly #timeouts: HttpTimeouts;
  readonly #observer: VendorCallObserver | undefined;
  readonly #requestIdHeader: string | undefined;
  readonly #maxResponseBytes: number;

  constructor(options: VendorHttpOptions) {
    this.vendor = options.vendor;
    this.target = options.target;
    this.baseUrl = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#observer = options.observer;
    this.#requestIdHeader = options.requestIdHeader?.toLowerCase();
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const ca = options.tls?.caFile ? readFileSync(options.tls.caFile, 'utf8') : undefined;
    this.#agent = new Agent({
      connect: {
        timeout: this.#timeouts.connectMs,
        ...(ca ? { ca } : {}),
        ...(options.tls?.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
      },
      keepAliveTimeout: 10_000,
      maxResponseSize: this.#maxResponseBytes,
    });
  }

  /** Builds the URL for a call. Absolute URLs must stay on the target's origin (no token leaks). */
  resolve(path: string, query?: HttpCall['query']): URL {
    const url = /^https?:\/\//i.test(path) ? new URL(path) : new URL(path.replace(/^\//, ''), this.baseUrl);
    if (url.origin !== this.baseUrl.origin) {
      throw new VendorError(
        `${this.vendor} pointed opsbot at ${url.origin}, which is not the configured target`,
        {
          vendor: this.vendor,
          vendorCode: 'foreign-origin',
        },
      );
    }
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  async call(call: HttpCall): Promise<HttpAnswer> {
    const url = this.resolve(call.path, call.query);
    if (call.mutates) await call.scope?.beforeMutation?.();
    const started = performance.now();
    const record = (
      status: number | undefined,
      requestId: string | undefined,
      errorCode: string | undefined,
    ) =>
      this.#observer?.(
        {
          vendor: this.vendor,
          target: this.target,
          method: call.method,
          path: url.pathname,
          status,
          durationMs: performance.now() - started,
          vendorRequestId: requestId,
          errorCode,
        },
        call.scope,
      );
    let response: Dispatcher.ResponseData;
    let text: string | undefined;
    try {
      response = await undiciRequest(url, {
        method: call.method,
        headers: call.headers,
        body: call.body,
        dispatcher: this.#agent,
        signal: AbortSignal.timeout(call.timeoutMs ?? this.#timeouts.requestMs),
      });
      text = await readCapped(response, this.#maxResponseBytes);
    } catch (error) {
      const failure = this.#networkError(error, call, url);
      record(undefined, undefined, failure.vendorCode);
      throw failure;
    }
    const headers = flattenHeaders(response.headers);
    const requestId = this.#requestIdHeader ? headers[this.#requestIdHeader] : undefined;
    if (text === undefined) {
      record(undefined, requestId, TOO_LARGE);
      throw this.#tooLarge(call, url, response.statusCode, requestId);
    }
    record(response.statusCode, requestId, undefined);
    return {
      status: response.statusCode,
      headers,
      contentType: headers['content-type'] ?? '',
      text,
      url: `${url.origin}${url.pathname}`,
    };
  }

  #tooLarge(call: HttpCall, url: URL, status: number, requestId: string | undefined): VendorError {
    return new VendorError(
      `${this.vendor} target "${this.target}" answered ${call.method} ${url.pathname} with more than ` +
        `${formatSize(this.#maxResponseBytes)}; opsbot stopped reading it (raise maxResponseBytes ` +
        'for this target if such answers are expected)',
      {
        vendor: this.vendor,
        vendorCode: TOO_LARGE,
        httpStatus: status,
        requestId,
        // The same call would get the same answer. A read changed nothing; a change may have been
        // made, but what the vendor said about it is unknown.
        retryable: false,
        delivery: call.method === 'GET' ? 'answered' : 'uncertain',
      },
    );
  }

  #networkError(error: unknown, call: HttpCall, url: URL): VendorError {
    const certificate = tlsErrorCode(error);
    if (certificate) {
      // Not a passing fault: nothing was sent, and only configuration fixes it.
      const advice =
        certificate === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? 'its name does not match the configured url'
          : certificate === 'CERT_HAS_EXPIRED' || certificate === 'CERT_NOT_YET_VALID'
            ? 'it is outside its validity dates'
            : "set this target's tls.caFile to the PEM of the CA that signed it";
      return new VendorError(
        `${this.vendor} target "${this.target}" presented a TLS certificate opsbot does not trust (${certificate}): ${advice}`,
        { vendor: this.vendor, vendorCode: 'tls', retryable: false, delivery: 'not-sent', cause: error },
      );
    }
    const err = error as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = err.code ?? err.cause?.code ?? err.name;
    const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError' || /TIMEOUT/.test(code ?? '');
    const notSent = NOT_SENT_CODES.has(code ?? '') || NOT_SENT_CODES.has(err.cause?.code ?? '');
    const what = timedOut
      ? `did not answer in time`
      : notSent
        ? `could not be reached (${code})`
        : `dropped the connection (${code ?? 'network error'})`;
    return new VendorError(
      `${this.vendor} target "${this.target}" ${what} on ${call.method} ${url.pathname}`,
      {
        vendor: this.vendor,
        vendorCode: timedOut ? 'timeout' : 'network',
        retryable: true,
        delivery: notSent ? 'not-sent' : 'uncertain',
        cause: error,
      },
    );
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

const TOO_LARGE = 'answer-too-large';

/**
 * The body as text, or undefined when it is longer than `max` bytes. The agent's
 * `maxResponseSize` (undici counts the bytes as they arrive and drops the connection past it) is
 * what bounds the memory; a declared length over `max` is refused before a byte is read.
 */
async function readCapped(response: Dispatcher.ResponseData, max: number): Promise<string | undefined> {
  if (Number(response.headers['content-length']) > max) {
    response.body.destroy();
    return undefined;
  }
  try {
    return await response.body.text();
  } catch (error) {
    if ((error as { code?: unknown }).code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return undefined;
    throw error;
  }
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The certificate-verification code in an error's cause chain, if that is what failed. */
function tlsErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code && TLS_CODES.has(code)) return code;
    current = current.cause;
  }
  return undefined;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined) out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Retry-After in milliseconds (seconds or an HTTP date), or undefined. */
export function retryAfterMs(headers: Record<string, string>, now = Date.now()): number | undefined {
  const value = headers['retry-after'];
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** HTTP statuses that mean "nothing was done, try again later" for every vendor here. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}

/**
 * What an HTTP error status says about whether the request was processed: 429 and 503 refuse
 * before doing anything; a 502 or 504 from a proxy may hide a request that did reach the vendor.
 */
export function deliveryForStatus(status: number): 'not-sent' | 'uncertain' | 'answered' {
  if (status === 429 || status === 503) return 'not-sent';
  if (status === 502 || status === 504) return 'uncertain';
  return 'answered';
}

/**
 * Parses a JSON answer. A body that is not JSON (an HTML page from a proxy or web adaptor) is a
 * failure whose message says what came back, never the page itself.
 */
export function parseJsonAnswer(answer: HttpAnswer, vendor: string): unknown {
  try {
    return JSON.parse(answer.text);
  } catch {
    const type = answer.contentType.split(';')[0]?.trim() || 'an unknown content type';
    throw new VendorError(
      `${vendor} answered HTTP ${answer.status} with ${type} instead of JSON (a proxy or login page?)`,
      {
        vendor,
        vendorCode: `http-${answer.status}`,
        httpStatus: answer.status,
        retryable: isRetryableStatus(answer.status),
        delivery: deliveryForStatus(answer.status),
      },
    );
  }
}
