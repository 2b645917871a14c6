import { VendorError } from '../../errors.js';
import { deliveryForStatus, type HttpAnswer, isRetryableStatus, retryAfterMs } from '../http.js';

/**
 * CipherTrust reports failures with real HTTP 4xx/5xx statuses and, usually, a JSON body
 * `{"code":5,"codeDesc":"NCERRUnauthorizedAccess","message":"Wrong username or password.","requestID":"…"}`
 * (seen in a fixture, not documented: every field is optional here). Each becomes one sentence
 * naming codeDesc/code and the HTTP status, with `requestID` kept as the VendorError's requestId.
 */

export const VENDOR = 'cckm';

/** Longest vendor text kept in a message: enough for a sentence, not for a stack trace. */
const MAX_TEXT = 240;

interface CckmErrorBody {
  code: string | number | undefined;
  codeDesc: string | undefined;
  message: string | undefined;
  requestId: string | undefined;
}

/** A non-2xx answer as one VendorError. `method` decides whether a 500 may be retried. */
export function cckmHttpError(answer: HttpAnswer, method: string): VendorError {
  const body = readErrorBody(answer.text);
  const path = new URL(answer.url).pathname;
  const named = [body?.codeDesc, body?.code !== undefined ? `(code ${body.code})` : undefined]
    .filter(Boolean)
    .join(' ');
  // message ?? codeDesc ?? raw text, without saying codeDesc twice.
  const said = body?.message ?? (body?.codeDesc ? undefined : plainText(answer));
  return new VendorError(
    `CipherTrust answered HTTP ${answer.status}${named ? ` ${named}` : ''} to ${method} ${path}${said ? `: ${said}` : ''}`,
    {
      vendor: VENDOR,
      vendorCode: body?.codeDesc ?? body?.code ?? `http-${answer.status}`,
      httpStatus: answer.status,
      ...(body?.requestId ? { requestId: body.requestId } : {}),
      // A 500 on a read is worth another try on the next poll; a 500 on the start is final for that request.
      retryable: isRetryableStatus(answer.status) || (answer.status === 500 && method === 'GET'),
      ...retryAfter(answer),
      delivery: deliveryForStatus(answer.status),
    },
  );
}

/** A 2xx answer whose JSON is not what the API documents. */
export function unexpectedAnswer(answer: HttpAnswer, method: string, problem: string): VendorError {
  return new VendorError(
    `CipherTrust answered ${method} ${new URL(answer.url).pathname} with an unexpected shape (${truncate(problem)})`,
    { vendor: VENDOR, vendorCode: 'unexpected-answer', httpStatus: answer.status },
  );
}

function readErrorBody(text: string): CckmErrorBody | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const body = parsed as Record<string, unknown>;
  const nonEmpty = (value: unknown) =>
    typeof value === 'string' && value.trim() ? truncate(value) : undefined;
  const code = typeof body.code === 'number' || typeof body.code === 'string' ? body.code : undefined;
  return {
    code: typeof code === 'string' ? truncate(code, 40) : code,
    codeDesc: nonEmpty(body.codeDesc)?.slice(0, 80),
    message: nonEmpty(body.message),
    requestId: nonEmpty(body.requestID)?.slice(0, 100),
  };
}

/** A body that is not a JSON error: plain text is kept (short), an HTML page never is. */
function plainText(answer: HttpAnswer): string | undefined {
  const text = answer.text.trim();
  if (!text) return undefined;
  if (/html/i.test(answer.contentType) || text.startsWith('<'))
    return 'an HTML page (a proxy or login page?)';
  return truncate(text);
}

function truncate(text: string, max = MAX_TEXT): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function retryAfter(answer: HttpAnswer): { retryAfterMs?: number } {
  const ms = retryAfterMs(answer.headers);
  return ms === undefined ? {} : { retryAfterMs: ms };
}
