import { randomUUID } from 'node:crypto';
import { type SimReply, type SimRequest, type SimServer, startSimServer } from '../simulator-server.js';
import { refreshView, type SimRefresh, type SimRefreshView } from './simulator-refreshes.js';
import {
  BAD_REQUEST,
  errorBody,
  fail,
  INVALID_PARAM,
  jsonBody,
  NOT_FOUND,
  OWNER,
  readPaging,
  UNAVAILABLE,
} from './simulator-replies.js';
import { SimTokens } from './simulator-tokens.js';

/**
 * A CipherTrust Manager that speaks the parts of the REST API opsbot uses, over real HTTP(S):
 * password and refresh-token grants (counted), JWT expiry on a configurable clock, CCKM DSM
 * domains, refreshes that progress one domain at a time to completed / failed / aborted, the
 * paged and filtered refresh list, and cancel. It answers errors the way the appliance does:
 * real 4xx/5xx statuses with `{"code","codeDesc","message","requestID"}`.
 *
 * Refresh state is computed from the clock on every read (no timers), so 10,000 refreshes cost a
 * few hundred bytes each and tests can move time forward with `now`.
 */

export type { SimRefreshView };

export type CckmScenario = 'success' | 'failure' | 'slow' | 'token-expiry' | '5xx-storm';

export interface SimDomain {
  id: string;
  name: string;
}

export interface CckmSimulatorOptions {
  port?: number;
  /** Serve HTTPS with a fresh self-signed certificate (`certificatePem`), like an appliance. */
  tls?: boolean;
  /** Default `admin`. */
  username?: string;
  /** Default `sim-password`. */
  password?: string;
  /** How long a JWT lives, reported as `duration` in seconds. Default 300 s (doc). */
  jwtLifetimeMs?: number;
  /** In the `token-expiry` scenario JWTs really die this fast while still claiming the full duration. Default 1 s. */
  shortJwtLifetimeMs?: number;
  /** Refresh-token lifetime. Default: the `refresh_token_lifetime` minutes the grant asked for (none: unlimited). */
  refreshTokenLifetimeMs?: number;
  /** Time one domain takes within a refresh. Default 2 s (×10 in the `slow` scenario). */
  domainStepMs?: number;
  /** The CCKM DSM domains. Default: five domains with fixed ids. */
  domains?: SimDomain[];
  scenario?: CckmScenario;
  /** Clock. Default `Date.now`; tests pass a controllable one. */
  now?: () => number;
}

export interface CckmSimulator extends Omit<SimServer, 'url'> {
  url: string;
  credentials: { username: string; password: string };
  domains: readonly SimDomain[];
  /** Successful grants by type, and refused ones (bad password, bad refresh token). */
  grants: { password: number; refresh: number; refused: number };
  scenario: CckmScenario;
  /** Switches behaviour for what comes next; clears scripted faults first. */
  setScenario(name: CckmScenario): void;
  /** One refresh as the API would show it now. */
  refresh(id: string): SimRefreshView | undefined;
  /** Every JWT issued so far is expired from now on (the next call with one gets a 401). */
  expireTokens(): void;
  /** Every refresh token issued so far is refused from now on (the next refresh grant gets a 401). */
  revokeRefreshTokens(): void;
}

export const SIM_DOMAINS: readonly SimDomain[] = [
  { id: '6070915c-0ab4-4e7e-bf4d-31dd31214874', name: 'dsm-prod-eu' },
  { id: '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed', name: 'dsm-prod-us' },
  { id: '3f2504e0-4f89-41d3-9a0c-0305e82c3301', name: 'dsm-staging' },
  { id: '9c5b94b1-35ad-49bb-b118-8e8fc24abf80', name: 'dsm-payments' },
  { id: 'd9428888-122b-41b6-a8a7-8b0b2f1e5c11', name: 'dsm-archive' },
];

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SORTABLE = new Set(['createdAt', 'updatedAt', 'overall_status']);

type Handler = (req: SimRequest, params: Record<string, string>) => SimReply;

export async function startCckmSimulator(options: CckmSimulatorOptions = {}): Promise<CckmSimulator> {
  const now = options.now ?? Date.now;
  const credentials = { username: options.username ?? 'admin', password: options.password ?? 'sim-password' };
  const domainStepMs = options.domainStepMs ?? 2_000;
  const domains = options.domains ?? SIM_DOMAINS;
  const domainIds = new Set(domains.map((domain) => domain.id));
  const refreshes = new Map<string, SimRefresh>();
  let scenario: CckmScenario = options.scenario ?? 'success';
  let seq = 0;

  const tokens = new SimTokens({
    now,
    credentials,
    jwtLifetimeMs: options.jwtLifetimeMs ?? 300_000,
    shortLifetimeMs: () => (scenario === 'token-expiry' ? (options.shortJwtLifetimeMs ?? 1_000) : undefined),
    refreshTokenLifetimeMs: options.refreshTokenLifetimeMs,
  });
  const authed =
    (handler: Handler): Handler =>
    (req, params) =>
      tokens.authorize(req) ?? handler(req, params);
  const view = (refresh: SimRefresh) => refreshView(refresh, now());

  const startRefresh: Handler = (req) => {
    const body = jsonBody(req);
    if ('reply' in body) return body.reply;
    const { domains: asked, synchronize_all: all } = body.value;
    if (all !== undefined && typeof all !== 'boolean')
      return fail(INVALID_PARAM, 'synchronize_all must be a boolean');
    const hasDomains = asked !== undefined && asked !== null;
    if (hasDomains && all === true)
      return fail(BAD_REQUEST, 'domains and synchronize_all cannot be used together');
    if (!hasDomains && all !== true)
      return fail(BAD_REQUEST, 'either domains or synchronize_all is required');
    let chosen: string[];
    if (all === true) {
      chosen = domains.map((domain) => domain.id);
    } else {
      if (!Array.isArray(asked) || asked.length === 0 || !asked.every((id) => typeof id === 'string')) {
        return fail(INVALID_PARAM, 'domains must be a non-empty list of domain ids');
      }
      const malformed = asked.find((id) => !UUID_SHAPE.test(id));
      if (malformed !== undefined)
        return fail(INVALID_PARAM, `invalid domain id "${malformed.slice(0, 60)}"`);
      const unknown = asked.find((id) => !domainIds.has(id));
      if (unknown !== undefined) return fail(NOT_FOUND, `Resource not found: DSM domain ${unknown}`);
      chosen = [...new Set(asked as string[])];
    }
    const refresh: SimRefresh = {
      id: randomUUID(),
      seq: seq++,
      createdAt: now(),
      domains: chosen,
      stepMs: scenario === 'slow' ? domainStepMs * 10 : domainStepMs,
      failAt: scenario === 'failure' ? Math.min(1, chosen.length - 1) : undefined,
      abortAt: undefined,
    };
    refreshes.set(refresh.id, refresh);
    return { status: 201, body: view(refresh) };
  };

  const listRefreshes: Handler = (req) => {
    const paging = readPaging(req);
    if ('reply' in paging) return paging.reply;
    const sort = req.query.get('sort') || 'createdAt';
    const field = sort.replace(/^-/, '');
    if (!SORTABLE.has(field)) return fail(INVALID_PARAM, `invalid sort field "${field.slice(0, 40)}"`);
    const status = req.query.get('overall_status');
    const id = req.query.get('id');
    const rows = [...refreshes.values()]
      .filter((refresh) => !id || refresh.id === id)
      .map((refresh) => ({ refresh, shown: view(refresh) }))
      .filter(({ shown }) => !status || shown.overall_status === status);
    const direction = sort.startsWith('-') ? -1 : 1;
    rows.sort((a, b) => {
      const left = String(a.shown[field]);
      const right = String(b.shown[field]);
      return direction * (left < right ? -1 : left > right ? 1 : a.refresh.seq - b.refresh.seq);
    });
    return {
      body: {
        skip: paging.skip,
        limit: paging.limit,
        total: rows.length,
        resources: rows.slice(paging.skip, paging.skip + paging.limit).map(({ shown }) => shown),
      },
    };
  };

  const getRefresh: Handler = (_req, params) => {
    const refresh = refreshes.get(params.id ?? '');
    return refresh ? { body: view(refresh) } : fail(NOT_FOUND, 'Resource not found');
  };

  const cancelRefresh: Handler = (_req, params) => {
    const refresh = refreshes.get(params.id ?? '');
    if (!refresh) return fail(NOT_FOUND, 'Resource not found');
    if (refresh.abortAt === undefined) {
      if (view(refresh).overall_status !== 'in_progress') {
        return fail(BAD_REQUEST, `refresh ${refresh.id} is not in progress and cannot be cancelled`);
      }
      refresh.abortAt = now();
    }
    return { body: view(refresh) };
  };

  const listDomains: Handler = (req) => {
    const paging = readPaging(req);
    if ('reply' in paging) return paging.reply;
    return {
      body: {
        skip: paging.skip,
        limit: paging.limit,
        total: domains.length,
        resources: domains.slice(paging.skip, paging.skip + paging.limit).map((domain) => ({
          id: domain.id,
          uri: `kylo:kylo:cckm:dsm-domain:${domain.id}`,
          ...OWNER,
          createdAt: '2024-01-15T09:00:00.000Z',
          updatedAt: '2024-01-15T09:00:00.000Z',
          name: domain.name,
          cloud_name: 'dsm',
        })),
      },
    };
  };

  const server = await startSimServer(
    [
      { method: 'POST', path: '/api/v1/auth/tokens', handler: (req) => tokens.grant(req) },
      { method: 'GET', path: '/api/v1/cckm/dsm/domains', handler: authed(listDomains) },
      { method: 'POST', path: '/api/v1/cckm/dsm/refresh', handler: authed(startRefresh) },
      { method: 'GET', path: '/api/v1/cckm/dsm/refresh', handler: authed(listRefreshes) },
      { method: 'GET', path: '/api/v1/cckm/dsm/refresh/:id', handler: authed(getRefresh) },
      { method: 'POST', path: '/api/v1/cckm/dsm/refresh/:id/cancel', handler: authed(cancelRefresh) },
    ],
    { ...(options.port === undefined ? {} : { port: options.port }), tls: options.tls ?? false },
  );

  const simulator: CckmSimulator = {
    ...server,
    credentials,
    domains,
    grants: tokens.grants,
    scenario,
    setScenario(name) {
      scenario = name;
      simulator.scenario = name;
      server.clearFaults();
      if (name === '5xx-storm') {
        server.inject({
          times: 3,
          status: 503,
          headers: { 'retry-after': '1' },
          body: errorBody(UNAVAILABLE, 'Service is temporarily unavailable, please try again later.'),
        });
        server.inject({
          status: 502,
          headers: { 'content-type': 'text/html' },
          body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
        });
      }
    },
    refresh: (id) => {
      const refresh = refreshes.get(id);
      return refresh && view(refresh);
    },
    expireTokens: () => tokens.expireAll(),
    revokeRefreshTokens: () => tokens.revokeRefreshTokens(),
  };
  if (scenario !== 'success') simulator.setScenario(scenario);
  return simulator;
}
