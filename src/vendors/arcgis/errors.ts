import { VendorError } from '../../errors.js';
import { deliveryForStatus, type HttpAnswer, isRetryableStatus, retryAfterMs } from '../http.js';

/**
 * Turns every ArcGIS answer into a JSON object or one VendorError sentence naming the vendor's
 * code. ArcGIS reports most failures with HTTP 200 and a JSON body (Esri's JS client,
 * `request.ts`), in four shapes:
 *   `{"error":{"code","messageCode"?,"message","details"}}` — the code is `messageCode || code`;
 *   `{"status":"failed"|"failure", …}` and `{"status":"error","messages":[…]}`;
 *   a top-level `"code" >= 400`.
 * 498 (invalid or expired token) and 499 (token required) are thrown as `ArcgisTokenRejected`
 * so the client can mint a new token and retry the call once.
 */

export const VENDOR = 'arcgis';

/** Longest vendor text kept in a message: enough for a sentence, not for a stack trace. */
const MAX_TEXT = 300;

/** The token was refused (498 invalid/expired, 499 missing). Nothing was done; a new token may help. */
export class ArcgisTokenRejected extends VendorError {
  constructor(message: string, vendorCode: string | number) {
    super(message, { vendor: VENDOR, vendorCode, retryable: false, delivery: 'not-sent' });
    this.name = 'ArcgisTokenRejected';
  }
}

interface Failure {
  /** `messageCode || code`, as Esri's client reports it. */
  code: string | number | undefined;
  /** The numeric `code`, which is what says "token problem" (498/499). */
  numericCode: number | undefined;
  text: string;
}

/**
 * Reads one answer. `operation` says what was asked, in words: "refresh deployment x".
 * Throws for a non-2xx status, a body that is not a JSON object, and every error shape above.
 */
export function readArcgisAnswer(answer: HttpAnswer, operation: string): Record<string, unknown> {
  const body = parseObject(answer.text);
  const type = answer.contentType.split(';')[0]?.trim() || 'no content type';
  if (answer.status < 200 || answer.status > 299) {
    const failure = body && findFailure(body);
    const said = failure ? `: ${describeFailure(failure)}` : '';
    throw new VendorError(`ArcGIS answered HTTP ${answer.status} (${type}) to ${operation}${said}`, {
      vendor: VENDOR,
      vendorCode: failure?.code ?? `http-${answer.status}`,
      httpStatus: answer.status,
      retryable: isRetryableStatus(answer.status),
      retryAfterMs: retryAfterMs(answer.headers),
      delivery: deliveryForStatus(answer.status),
    });
  }
  if (!body) {
    // An HTML page (web adaptor, SSO login, proxy error) or a missing f=json: never echo it.
    throw new VendorError(
      `ArcGIS answered HTTP ${answer.status} with ${type} instead of JSON to ${operation} (a proxy or login page?)`,
      { vendor: VENDOR, vendorCode: 'not-json', httpStatus: answer.status },
    );
  }
  const failure = findFailure(body);
  if (!failure) return body;
  if (failure.numericCode === 498 || failure.numericCode === 499) {
    throw new ArcgisTokenRejected(
      `ArcGIS rejected the token for ${operation}: ${describeFailure(failure)}`,
      failure.code ?? failure.numericCode,
    );
  }
  // An error body with a 5xx-style code (e.g. 503 while a pod restarts) means "try again later".
  const retryable = failure.numericCode !== undefined && isRetryableStatus(failure.numericCode);
  throw new VendorError(`ArcGIS refused to ${operation}: ${describeFailure(failure)}`, {
    vendor: VENDOR,
    vendorCode: failure.code ?? `status-${String(body.status)}`,
    retryable,
    delivery: retryable ? 'not-sent' : 'answered',
  });
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function findFailure(body: Record<string, unknown>): Failure | undefined {
  if (isObject(body.error)) {
    const error = body.error;
    const numericCode = toNumber(error.code);
    const code = nonEmpty(error.messageCode) ?? numericCode ?? nonEmpty(error.code);
    return { code, numericCode, text: joinText(error.message, error.details) || 'no message' };
  }
  // Lower case only: the Job resource's own `status` words (FAILED, …) are upper case and are
  // read by the action, not treated as a failed call.
  const status = typeof body.status === 'string' ? body.status : undefined;
  const topCode = toNumber(body.code);
  if (
    status === 'failed' ||
    status === 'failure' ||
    status === 'error' ||
    (topCode !== undefined && topCode >= 400)
  ) {
    const code = nonEmpty(body.messageCode) ?? topCode;
    const said = joinText(body.message, body.messages);
    const text =
      status && code === undefined ? `status "${status}"${said ? `, ${said}` : ''}` : said || 'no message';
    return { code, numericCode: topCode, text };
  }
  return undefined;
}

function describeFailure(failure: Failure): string {
  return failure.code === undefined ? failure.text : `error ${failure.code}, ${failure.text}`;
}

/** `message` plus any `details`/`messages` that add something, as one short line. */
export function joinText(...parts: unknown[]): string {
  const texts: string[] = [];
  for (const part of parts.flat()) {
    const text = typeof part === 'string' ? part.trim() : isObject(part) ? nonEmpty(part.message) : undefined;
    if (typeof text === 'string' && text && !texts.includes(text)) texts.push(text);
  }
  const line = texts.join(' — ').replace(/\s+/g, ' ');
  return line.length > MAX_TEXT ? `${line.slice(0, MAX_TEXT - 1)}…` : line;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toNumber(value: unknown): number | undefined {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}
