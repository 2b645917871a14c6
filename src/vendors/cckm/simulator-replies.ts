import { randomUUID } from 'node:crypto';
import type { SimReply, SimRequest } from '../simulator-server.js';

/**
 * How the simulated appliance says no: a real 4xx/5xx with `{"code","codeDesc","message","requestID"}`.
 * The codes follow the one documented fixture (code 5, NCERRUnauthorizedAccess); the others are
 * plausible guesses in the same family.
 */

export interface Outcome {
  status: number;
  code: number;
  codeDesc: string;
}

export const BAD_REQUEST: Outcome = { status: 400, code: 1, codeDesc: 'NCERRBadRequest' };
export const INVALID_PARAM: Outcome = { status: 400, code: 10, codeDesc: 'NCERRInvalidParamValue' };
export const UNAUTHORIZED: Outcome = { status: 401, code: 5, codeDesc: 'NCERRUnauthorizedAccess' };
export const NOT_FOUND: Outcome = { status: 404, code: 4, codeDesc: 'NCERRResourceNotFound' };
export const UNAVAILABLE: Outcome = { status: 503, code: 22, codeDesc: 'NCERRServiceUnavailable' };

export function errorBody(outcome: Outcome, message: string) {
  return { code: outcome.code, codeDesc: outcome.codeDesc, message, requestID: randomUUID() };
}

export function fail(outcome: Outcome, message: string): SimReply {
  return { status: outcome.status, body: errorBody(outcome, message) };
}

/** The appliance takes JSON only, and says so. */
export function jsonBody(req: SimRequest): { value: Record<string, unknown> } | { reply: SimReply } {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    return { reply: fail(BAD_REQUEST, 'Content-Type must be application/json') };
  }
  try {
    const value: unknown = JSON.parse(req.body);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return { value: value as Record<string, unknown> };
    }
  } catch {
    // answered below
  }
  return { reply: fail(BAD_REQUEST, 'request body is not a JSON object') };
}

/** `?skip=&limit=` as every CipherTrust collection takes them (limit 10 by default). */
export function readPaging(req: SimRequest): { skip: number; limit: number } | { reply: SimReply } {
  const read = (name: string, fallback: number) => {
    const raw = req.query.get(name);
    if (raw === null || raw === '') return fallback;
    return /^\d+$/.test(raw) ? Number(raw) : undefined;
  };
  const skip = read('skip', 0);
  const limit = read('limit', 10);
  if (skip === undefined || limit === undefined) {
    return { reply: fail(INVALID_PARAM, 'skip and limit must be whole numbers') };
  }
  return { skip, limit };
}

/** Doc samples show these owner fields on every resource. */
export const OWNER = {
  account: 'kylo:kylo:admin:accounts:kylo',
  application: 'ncryptify:gemalto:admin:apps:kylo',
  devAccount: 'ncryptify:gemalto:admin:accounts:gemalto',
};
