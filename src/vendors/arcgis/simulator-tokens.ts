import { randomBytes } from 'node:crypto';
import { formFields, type SimReply, type SimRequest } from '../simulator-server.js';

/**
 * The simulator's token service (`{site}/sharing/rest/generateToken`) and the check every admin
 * call goes through: f=json (the default format is HTML, doc), form bodies, the token in the
 * POST body or the GET query, its expiry, and the Referer of referer-bound tokens. Refusals come
 * as the real site sends them: HTTP 200 with a 498 or 499 JSON body.
 */

export interface SimToken {
  expiresAt: number;
  username: string;
  /** Set for referer-bound tokens: every call must carry this Referer. */
  referer: string | undefined;
}

export interface TokenCounters {
  /** Successful generateToken calls. */
  tokensMinted: number;
  /** All generateToken calls, refused ones included. */
  tokenRequests: number;
  /** Admin calls refused with 498/499. */
  tokenRejections: number;
}

export interface TokenServiceOptions {
  username: string;
  password: string;
  now: () => number;
  /** Lifetime of a token asked for `minutes` (the scenario may shorten it). */
  lifetimeMs: (minutes: number) => number;
  counters: TokenCounters;
}

export type Authorization = { refusal: SimReply } | { fields: Record<string, string>; token: SimToken };

const TOKEN_INVALID = { error: { code: 498, message: 'Invalid token.', details: [] } };
const TOKEN_REQUIRED = {
  error: { code: 499, message: 'Token Required', messageCode: 'GWM_0003', details: ['Token Required'] },
};

/** Above this many live tokens, expired ones are dropped (the token-expiry scenario mints many). */
const PRUNE_AT = 10_000;

export class SimTokenService {
  readonly #tokens = new Map<string, SimToken>();
  readonly #options: TokenServiceOptions;

  constructor(options: TokenServiceOptions) {
    this.#options = options;
  }

  generateToken(req: SimRequest): SimReply {
    const { counters, now } = this.#options;
    counters.tokenRequests += 1;
    const form = formFields(req);
    const refuse = (detail: string) => arcgisError(400, 'Unable to generate token.', [detail]);
    if (req.method !== 'POST') return refuse('Method not supported. Use POST.');
    if (!isForm(req)) return refuse('Request body must be form-urlencoded.');
    if (!isJsonFormat(form.f)) return htmlReply(200, 'Generate Token', 'ArcGIS Portal Directory');
    if (!form.username || !form.password) return refuse("'username' and 'password' must be specified.");
    const client = form.client ?? 'requestip';
    if (!['referer', 'ip', 'requestip'].includes(client)) return refuse(`Invalid client type '${client}'.`);
    if (client === 'referer' && !form.referer) return refuse("'referer' must be specified.");
    if (form.username !== this.#options.username || form.password !== this.#options.password) {
      return refuse('Invalid username or password.');
    }
    const minutes = form.expiration && /^\d+$/.test(form.expiration) ? Number(form.expiration) : 60;
    const token = randomBytes(48).toString('base64url');
    const expiresAt = now() + this.#options.lifetimeMs(minutes);
    this.#prune();
    this.#tokens.set(token, {
      expiresAt,
      username: form.username,
      referer: client === 'referer' ? form.referer : undefined,
    });
    counters.tokensMinted += 1;
    return { body: { token, expires: expiresAt, ssl: false } };
  }

  /** Checks an admin call; answers its refusal, or its fields and token. */
  authorize(req: SimRequest): Authorization {
    const { counters, now } = this.#options;
    const fields = req.method === 'POST' ? formFields(req) : Object.fromEntries(req.query);
    if (req.method === 'POST' && !isForm(req)) {
      return {
        refusal: arcgisError(400, 'Unable to process request.', ['Request body must be form-urlencoded.']),
      };
    }
    if (!isJsonFormat(fields.f)) {
      return { refusal: htmlReply(200, 'ArcGIS Enterprise Administrator Directory', req.path) };
    }
    // A POST's token must be in its body (doc), so a token in a POST's URL counts as missing.
    if (!fields.token) {
      counters.tokenRejections += 1;
      return { refusal: { body: TOKEN_REQUIRED } };
    }
    const token = this.#tokens.get(fields.token);
    const refererOk = !token?.referer || req.headers.referer === token.referer;
    if (!token || token.expiresAt <= now() || !refererOk) {
      counters.tokenRejections += 1;
      return { refusal: { body: TOKEN_INVALID } };
    }
    return { fields, token };
  }

  /** Every token minted so far is expired from now on. */
  expireAll(): void {
    const past = this.#options.now() - 1;
    for (const token of this.#tokens.values()) token.expiresAt = Math.min(token.expiresAt, past);
  }

  #prune(): void {
    if (this.#tokens.size < PRUNE_AT) return;
    const now = this.#options.now();
    for (const [value, token] of this.#tokens) if (token.expiresAt <= now) this.#tokens.delete(value);
  }
}

/** An error the way ArcGIS sends most of them: HTTP 200 with a JSON error body. */
export function arcgisError(code: number, message: string, details: string[]): SimReply {
  return { body: { error: { code, message, details } } };
}

export function htmlReply(
  status: number,
  title: string,
  text: string,
): SimReply & { status: number; body: string } {
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: `<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`,
  };
}

function isJsonFormat(f: string | undefined): boolean {
  return f === 'json' || f === 'pjson';
}

function isForm(req: SimRequest): boolean {
  return (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}
