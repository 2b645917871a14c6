import type { z } from 'zod';
import { VendorError } from '../../errors.js';
import type { CallScope, HttpAnswer, HttpCall, VendorHttp } from '../http.js';
import type { ClientDeps } from '../types.js';
import { cckmHttpError, unexpectedAnswer, VENDOR } from './errors.js';
import {
  type DomainPage,
  domainPageSchema,
  type Refresh,
  type RefreshPage,
  refreshPageSchema,
  refreshSchema,
  tokenAnswerSchema,
} from './schemas.js';
import { apiBaseUrl, type CckmTarget } from './target.js';
import { CckmTokens } from './tokens.js';

/** What a refresh is asked to cover (doc): listed domains, or every one — never both. */
export type RefreshBody = { domains: string[] } | { synchronize_all: true };

export interface RefreshListQuery {
  skip: number;
  limit: number;
  /** `in_progress`, `completed` or `failed`. */
  overallStatus?: string | undefined;
  /** A field name, `-` first for descending (`-createdAt`). */
  sort?: string | undefined;
}

const REFRESH_PATH = 'v1/cckm/dsm/refresh';
const DOMAINS_PATH = 'v1/cckm/dsm/domains';

/**
 * The CipherTrust Manager REST API (`https://cm/api`, JSON both ways, `Authorization: Bearer <jwt>`)
 * for one target: the CCKM DSM refresh and domain calls opsbot makes, each renewing the JWT once
 * and retrying once when the appliance answers 401.
 */
export class CckmClient {
  readonly target: CckmTarget;
  readonly #http: VendorHttp;
  readonly #tokens: CckmTokens;

  constructor(target: CckmTarget, deps: ClientDeps) {
    this.target = target;
    this.#http = deps.http({ baseUrl: apiBaseUrl(target) });
    if (target.tls?.insecureSkipVerify) {
      deps.log.warn('TLS certificate checks are OFF for this CipherTrust target (tls.insecureSkipVerify)');
    }
    this.#tokens = new CckmTokens({
      target,
      log: deps.log,
      now: deps.now,
      grant: async (body) => {
        const answer = await this.#send({ method: 'POST', path: 'v1/auth/tokens/', ...json(body) });
        return parse(tokenAnswerSchema, answer, 'POST');
      },
    });
  }

  startRefresh(body: RefreshBody, scope?: CallScope): Promise<Refresh> {
    return this.#call(refreshSchema, {
      method: 'POST',
      path: REFRESH_PATH,
      ...json(body),
      scope,
      mutates: true,
    });
  }

  getRefresh(id: string, scope?: CallScope): Promise<Refresh> {
    return this.#call(refreshSchema, {
      method: 'GET',
      path: `${REFRESH_PATH}/${encodeURIComponent(id)}`,
      scope,
    });
  }

  cancelRefresh(id: string, scope?: CallScope): Promise<Refresh> {
    return this.#call(refreshSchema, {
      method: 'POST',
      path: `${REFRESH_PATH}/${encodeURIComponent(id)}/cancel`,
      scope,
      mutates: true,
    });
  }

  listRefreshes(query: RefreshListQuery, scope?: CallScope): Promise<RefreshPage> {
    return this.#call(refreshPageSchema, {
      method: 'GET',
      path: REFRESH_PATH,
      query: { skip: query.skip, limit: query.limit, overall_status: query.overallStatus, sort: query.sort },
      scope,
    });
  }

  listDomains(query: { skip: number; limit: number }, scope?: CallScope): Promise<DomainPage> {
    return this.#call(domainPageSchema, { method: 'GET', path: DOMAINS_PATH, query, scope });
  }

  /** The start call as a person reads it in a dry run; the bearer token is masked. */
  describeStart(body: RefreshBody): string {
    return `POST ${this.#http.resolve(REFRESH_PATH).href} ${JSON.stringify(body)} (Authorization: Bearer ••••)`;
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  async #call<T>(schema: z.ZodType<T>, call: HttpCall): Promise<T> {
    const jwt = await this.#tokens.bearer();
    let answer = await this.#send(call, jwt);
    if (answer.status === 401) {
      // Expired ("Token is expired by 50s") or revoked: a 401 means nothing was done, so the
      // same call, even a POST, is safe to send once more with a new JWT.
      answer = await this.#send(call, await this.#tokens.afterRejection(jwt));
    }
    return parse(schema, answer, call.method);
  }

  async #send(call: HttpCall, jwt?: string): Promise<HttpAnswer> {
    const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
    if (jwt) headers.authorization = `Bearer ${jwt}`;
    return this.#http.call({ ...call, headers });
  }
}

function json(body: unknown): Pick<HttpCall, 'body' | 'headers'> {
  return { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
}

function parse<T>(schema: z.ZodType<T>, answer: HttpAnswer, method: string): T {
  if (answer.status < 200 || answer.status > 299) throw cckmHttpError(answer, method);
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    const type = answer.contentType.split(';')[0]?.trim() || 'no content type';
    throw new VendorError(
      `CipherTrust answered HTTP ${answer.status} with ${type} instead of JSON to ${method} ${new URL(answer.url).pathname} (a proxy or login page?)`,
      { vendor: VENDOR, vendorCode: 'not-json', httpStatus: answer.status },
    );
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw unexpectedAnswer(
    answer,
    method,
    `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
  );
}
