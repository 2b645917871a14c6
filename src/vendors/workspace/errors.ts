import { VendorError } from '../../errors.js';
import { deliveryForStatus, type HttpAnswer, isRetryableStatus, retryAfterMs } from '../http.js';

export const VENDOR = 'workspace';

/**
 * How long a 409 (the server is busy with another job) waits before the call is tried again, when
 * the answer says nothing (no Retry-After): Huawei's Terraform provider retries it every 30 s
 * (vendor doc, "infer"). A target may set its own (`busyWait`).
 */
export const BUSY_WAIT_MS = 30_000;

interface ErrorBody {
  code: string | undefined;
  message: string | undefined;
}

/**
 * Reads the vendor's error body. Workspace documents `{"error_code","error_msg"}`; some
 * gateways answer `{"code","message"}`, and IAM answers the Keystone form `{"error":{…}}`.
 */
function readErrorBody(text: string): ErrorBody {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { code: undefined, message: undefined };
  }
  if (typeof body !== 'object' || body === null) return { code: undefined, message: undefined };
  const record = body as Record<string, unknown>;
  const nested =
    typeof record.error === 'object' && record.error !== null
      ? (record.error as Record<string, unknown>)
      : {};
  return {
    code: firstText(record.error_code, record.code, nested.code),
    message: firstText(record.error_msg, record.message, nested.message),
  };
}

function firstText(...values: unknown[]): string | undefined {
  for (const value of values) {
    if ((typeof value === 'string' && value.trim() !== '') || typeof value === 'number') {
      return String(value).trim();
    }
  }
  return undefined;
}

function clip(text: string, max = 300): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/**
 * Turns an error answer into one sentence naming Huawei's code and the HTTP status, e.g.
 * `Huawei Workspace answered WKS.00129901 (HTTP 400) to the reinstall of server 25b1…: The request message is invalid`.
 * `service` names who answered (Workspace or IAM); `what` names the call in the user's words;
 * `busyWaitMs` is the target's wait after a 409 (default BUSY_WAIT_MS).
 */
export function errorFromAnswer(
  answer: HttpAnswer,
  options: { service: string; what: string; method: string; busyWaitMs?: number | undefined },
): VendorError {
  const body = readErrorBody(answer.text);
  const status = answer.status;
  // Keystone puts the HTTP status itself in `error.code`: not worth saying twice.
  const code = body.code === String(status) ? undefined : body.code;
  const message = body.message;
  const busy = status === 409;
  const type = answer.contentType.split(';')[0]?.trim();
  const said = message
    ? `: ${clip(message)}`
    : code === undefined && type && type !== 'application/json'
      ? ` with ${type} instead of an error body (a proxy page?)`
      : '';
  const codeText = code ? `${code} (HTTP ${status})` : `HTTP ${status}`;
  const hint = busy ? ' (the server is busy with another task)' : '';
  return new VendorError(`Huawei ${options.service} answered ${codeText} to ${options.what}${said}${hint}`, {
    vendor: VENDOR,
    vendorCode: code ?? `http-${status}`,
    httpStatus: status,
    requestId: answer.headers['x-request-id'],
    // 409 means the server is busy with another job and nothing was started: try again later.
    // A 500 on a read is worth another try; on the reinstall it may hide a started job.
    retryable: busy || isRetryableStatus(status) || (status === 500 && options.method === 'GET'),
    retryAfterMs: retryAfterMs(answer.headers) ?? (busy ? (options.busyWaitMs ?? BUSY_WAIT_MS) : undefined),
    delivery: busy ? 'not-sent' : deliveryForStatus(status),
  });
}

/**
 * The same error, marked as raised before the Workspace call left this process (getting a
 * token failed): the pipeline may then repeat a `start` safely.
 */
export function beforeSending(error: unknown): unknown {
  if (!(error instanceof VendorError) || error.delivery === 'not-sent') return error;
  return new VendorError(error.message, {
    vendor: error.vendor,
    vendorCode: error.vendorCode,
    httpStatus: error.httpStatus,
    requestId: error.requestId,
    retryable: error.retryable,
    retryAfterMs: error.retryAfterMs,
    delivery: 'not-sent',
    cause: error,
  });
}
