import { randomBytes, randomUUID } from 'node:crypto';
import type { SimReply, SimRequest } from '../simulator-server.js';
import { BAD_REQUEST, fail, INVALID_PARAM, jsonBody, UNAUTHORIZED } from './simulator-replies.js';

/**
 * The simulated `POST /api/v1/auth/tokens/` (doc): password and refresh-token grants, counted,
 * and the Bearer check every other route makes, with JWTs that expire on the simulator's clock.
 */

export interface SimTokenOptions {
  now: () => number;
  credentials: { username: string; password: string };
  /** Lifetime reported as `duration` (seconds) and, normally, enforced. */
  jwtLifetimeMs: number;
  /** When set, JWTs really die this fast while still reporting `jwtLifetimeMs` (clock skew, revocation). */
  shortLifetimeMs: () => number | undefined;
  /** Overrides the lifetime the password grant asks for. */
  refreshTokenLifetimeMs: number | undefined;
}

/** Expired JWTs are swept once this many are held (keeps 10,000-job runs small). */
const SWEEP_AT = 20_000;

export class SimTokens {
  /** Successful grants by type, and refused ones (bad password, bad refresh token). */
  readonly grants = { password: 0, refresh: 0, refused: 0 };
  readonly #options: SimTokenOptions;
  readonly #jwts = new Map<string, { expiresAt: number }>();
  readonly #refreshTokens = new Map<string, { id: string; expiresAt: number }>();

  constructor(options: SimTokenOptions) {
    this.#options = options;
  }

  grant(req: SimRequest): SimReply {
    const body = jsonBody(req);
    if ('reply' in body) return body.reply;
    const grantType = body.value.grant_type ?? 'password';
    if (grantType === 'password') return this.#passwordGrant(body.value);
    if (grantType === 'refresh_token') return this.#refreshGrant(body.value);
    return fail(BAD_REQUEST, `unsupported grant_type "${String(grantType).slice(0, 40)}"`);
  }

  /** `Authorization: Bearer <jwt>` on every other call; the expiry text is the doc's. */
  authorize(req: SimRequest): SimReply | undefined {
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!match) return fail(UNAUTHORIZED, 'Unauthorized: no bearer token');
    const known = this.#jwts.get(match[1]!);
    if (!known) return fail(UNAUTHORIZED, 'Unauthorized: Bearer token malformed: token signature is invalid');
    const lateMs = this.#options.now() - known.expiresAt;
    if (lateMs < 0) return undefined;
    return fail(
      UNAUTHORIZED,
      `Unauthorized: Bearer token malformed: Token is expired by ${Math.ceil(lateMs / 1000)}s`,
    );
  }

  /** Every JWT issued so far is expired from now on. */
  expireAll(): void {
    const at = this.#options.now();
    for (const token of this.#jwts.values()) token.expiresAt = Math.min(token.expiresAt, at);
  }

  /** Every refresh token issued so far is refused from now on. */
  revokeRefreshTokens(): void {
    const at = this.#options.now();
    for (const token of this.#refreshTokens.values()) token.expiresAt = Math.min(token.expiresAt, at);
  }

  #passwordGrant(body: Record<string, unknown>): SimReply {
    const { username, password, refresh_token_lifetime: minutes } = body;
    if (typeof username !== 'string' || typeof password !== 'string') {
      return fail(BAD_REQUEST, 'username and password are required for the password grant');
    }
    if (
      minutes !== undefined &&
      !(typeof minutes === 'number' && Number.isInteger(minutes) && minutes >= 0)
    ) {
      return fail(INVALID_PARAM, 'refresh_token_lifetime must be a whole number of minutes');
    }
    const { credentials, refreshTokenLifetimeMs, now } = this.#options;
    if (username !== credentials.username || password !== credentials.password) {
      this.grants.refused += 1;
      return fail(UNAUTHORIZED, 'Wrong username or password.');
    }
    this.grants.password += 1;
    const refreshToken = randomBytes(32).toString('base64url');
    const lifetimeMs = refreshTokenLifetimeMs ?? (minutes ? minutes * 60_000 : undefined);
    const id = randomUUID();
    this.#refreshTokens.set(refreshToken, {
      id,
      expiresAt: lifetimeMs ? now() + lifetimeMs : Number.POSITIVE_INFINITY,
    });
    return this.#issue(refreshToken, id);
  }

  #refreshGrant(body: Record<string, unknown>): SimReply {
    const token = body.refresh_token;
    if (typeof token !== 'string' || token === '') return fail(BAD_REQUEST, 'refresh_token is required');
    const known = this.#refreshTokens.get(token);
    if (!known || known.expiresAt <= this.#options.now()) {
      this.grants.refused += 1;
      return fail(UNAUTHORIZED, 'Invalid refresh token.');
    }
    this.grants.refresh += 1;
    return this.#issue(token, known.id);
  }

  #issue(refreshToken: string, refreshTokenId: string): SimReply {
    const issuedAt = this.#options.now();
    const lives = this.#options.shortLifetimeMs() ?? this.#options.jwtLifetimeMs;
    const jwt = makeJwt(issuedAt, issuedAt + lives);
    if (this.#jwts.size > SWEEP_AT) {
      for (const [key, value] of this.#jwts) if (value.expiresAt < issuedAt) this.#jwts.delete(key);
    }
    this.#jwts.set(jwt, { expiresAt: issuedAt + lives });
    return {
      status: 200,
      body: {
        jwt,
        duration: this.#options.jwtLifetimeMs / 1000,
        token_type: 'Bearer',
        client_id: 'opsbot-sim',
        refresh_token: refreshToken,
        refresh_token_id: refreshTokenId,
      },
    };
  }
}

/** Shaped like a real JWT (header.claims.signature) so logs and scrubbing see realistic values. */
function makeJwt(issuedAt: number, expiresAt: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = {
    iss: 'kylo',
    sub: `local|${randomUUID()}`,
    jti: randomUUID(),
    iat: Math.floor(issuedAt / 1000),
    exp: Math.floor(expiresAt / 1000),
  };
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.${randomBytes(32).toString('base64url')}`;
}
