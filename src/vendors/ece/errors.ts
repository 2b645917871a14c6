import type { z } from 'zod';
import { VendorError } from '../../errors.js';
import { deliveryForStatus, type HttpAnswer, isRetryableStatus, retryAfterMs } from '../http.js';
import { type EceKind, failedReplySchema } from './schemas.js';

/**
 * Turns an ECE error answer into one VendorError sentence that names ECE's code. Errors are
 * `BasicFailedReply` bodies (`{"errors":[{"code","message"}]}`) with the code(s) repeated in the
 * `x-cloud-error-codes` header (Elastic's API reference); the header is the fallback when a proxy
 * replaced the body.
 */

export const VENDOR = 'ece';

/** Longest vendor text kept in a message: enough for a sentence, not for a dump. */
const MAX_TEXT = 300;

export interface ResourceCall {
  operation: 'restart' | 'read' | 'cancel';
  target: string;
  deploymentId: string;
  kind: EceKind;
  refId: string;
  cancelPending?: boolean;
}

const VERBS: Record<ResourceCall['operation'], string> = {
  restart: 'restart',
  read: 'read',
  cancel: 'cancel the pending plan of',
};

export function eceFailure(answer: HttpAnswer, call: ResourceCall): VendorError {
  const { codes, message } = readFailure(answer);
  const code = codes[0];
  const status = answer.status;
  const cites = `(${[...codes, `HTTP ${status}`].join(', ')})`;
  const resource = `${call.kind}/${call.refId}`;
  const said = message ? `: ${message}` : '';
  const fail = (sentence: string, options: { retryable?: boolean } = {}) =>
    new VendorError(sentence, {
      vendor: VENDOR,
      vendorCode: code ?? `http-${status}`,
      httpStatus: status,
      retryable: options.retryable ?? false,
      retryAfterMs: retryAfterMs(answer.headers),
      delivery: deliveryForStatus(status),
    });

  if (status === 401) {
    return fail(
      `ECE rejected the credentials for target "${call.target}" ${cites}; check its apiKey or username/password`,
    );
  }
  // 449 is ECE's "re-authenticate with elevated permissions" (seed document); it is not in the
  // public spec for every call, so the status alone is enough.
  if (status === 449 || code === 'root.unauthorized.rbac.elevated_permissions_required') {
    return fail(
      `ECE needs elevated permissions to ${VERBS[call.operation]} ${resource}, which the credentials of target "${call.target}" do not have ${cites}`,
    );
  }
  switch (code) {
    case 'deployments.deployment_not_found':
      return fail(`ECE has no deployment ${call.deploymentId} on target "${call.target}" ${cites}`);
    case 'deployments.deployment_resource_not_found':
      return fail(
        `ECE found no ${call.kind} resource "${call.refId}" in deployment ${call.deploymentId}${said} ${cites}`,
      );
    case 'deployments.deployment_resource_plan_change_error':
      return call.operation === 'restart' && !call.cancelPending
        ? fail(
            `ECE refused the restart: a plan is already running on ${resource} ${cites}. Use --cancel-pending to cancel it.`,
          )
        : fail(
            `ECE refused to ${VERBS[call.operation]} ${resource}${said || ': it is in a state that does not allow it'} ${cites}`,
          );
    case 'deployments.deployment_resource_no_longer_exists':
      return fail(`ECE says ${resource} of deployment ${call.deploymentId} no longer exists ${cites}`);
    case 'deployments.resource_does_not_have_a_pending_plan':
      return fail(`ECE has no pending plan to cancel on ${resource} ${cites}`);
  }
  if (status === 403) {
    return fail(
      `ECE does not allow the user of target "${call.target}" to ${VERBS[call.operation]} ${resource}${said} ${cites}`,
    );
  }
  if (isRetryableStatus(status)) {
    return fail(`ECE is unavailable or busy${said} ${cites}; opsbot will try again`, { retryable: true });
  }
  // A read changes nothing, so an internal error while reading is worth another try.
  if (status >= 500 && call.operation === 'read') {
    return fail(`ECE failed to read ${resource}${said} ${cites}; opsbot will try again`, { retryable: true });
  }
  return fail(`ECE refused to ${VERBS[call.operation]} ${resource}${said} ${cites}`);
}

function readFailure(answer: HttpAnswer): { codes: string[]; message: string | undefined } {
  const fromHeader = (answer.headers['x-cloud-error-codes'] ?? '')
    .split(',')
    .map((code) => code.trim())
    .filter(Boolean);
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    // A proxy's HTML page: never echo it; the header and the status still say enough.
  }
  const parsed = failedReplySchema.safeParse(body);
  if (!parsed.success) return { codes: fromHeader, message: undefined };
  const codes = [...new Set([...parsed.data.errors.map((error) => error.code), ...fromHeader])];
  const message = parsed.data.errors.find((error) => error.message)?.message;
  return { codes, message: message === undefined ? undefined : clip(message) };
}

/** An answer that is JSON but not the shape ECE documents: say where, never dump it. */
export function unexpectedAnswer(what: string, error: z.ZodError): VendorError {
  const issue = error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : 'the body';
  return new VendorError(`ECE answered ${what} with data opsbot cannot read (${where}: ${issue?.message})`, {
    vendor: VENDOR,
    vendorCode: 'unexpected-answer',
  });
}

/**
 * The same failure, marked as not having changed anything: reads never mutate, so a read that
 * failed before the restart was sent leaves the start safe to try again.
 */
export function beforeMutation(error: unknown): unknown {
  if (!(error instanceof VendorError) || error.delivery === 'not-sent') return error;
  return new VendorError(error.message, {
    vendor: error.vendor,
    ...(error.vendorCode === undefined ? {} : { vendorCode: error.vendorCode }),
    ...(error.httpStatus === undefined ? {} : { httpStatus: error.httpStatus }),
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    retryable: error.retryable,
    delivery: 'not-sent',
    cause: error,
  });
}

export function clip(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_TEXT ? `${flat.slice(0, MAX_TEXT - 1)}…` : flat;
}
