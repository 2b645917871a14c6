import type { Logger } from 'pino';
import { registerSecretValue } from '../../config/secret.js';
import { VendorError } from '../../errors.js';
import type { TokenAnswer } from './schemas.js';
import type { CckmTarget } from './target.js';

/**
 * The JWTs of one target (doc, "Tokens"): sign in with the password ONCE, keep the refresh token,
 * and mint every later JWT (they live 300 s) with the refresh-token grant, shortly before expiry or
 * after a 401. The password grant comes back only when the refresh grant is refused (refresh token
 * expired or revoked). Never a password grant per call: each one leaves a refresh token on the
 * appliance, and on 2.7 those without a lifetime are never deleted.
 *
 * One instance per client, shared by every job of that target in this process; at most one grant
 * is in flight at a time (1,000 concurrent calls with an expired JWT make one grant).
 */

/** Posts one grant body to `v1/auth/tokens/` and returns the parsed answer (the client owns HTTP). */
export type GrantCall = (body: Record<string, unknown>) => Promise<TokenAnswer>;

interface Jwt {
  value: string;
  /** Clock time after which a call with it would likely be refused: renew before this. */
  renewAt: number;
}

/** The documented JWT lifetime, used when an answer leaves `duration` out. */
const DEFAULT_DURATION_S = 300;
/** Renew this long before expiry (30 s of 300 s), less for short-lived test tokens. */
const RENEW_EARLY_MS = 30_000;
const RENEW_EARLY_FRACTION = 0.1;

export class CckmTokens {
  readonly #target: CckmTarget;
  readonly #grant: GrantCall;
  readonly #log: Logger;
  readonly #now: () => number;
  #jwt: Jwt | undefined;
  #refreshToken: string | undefined;
  #pending: Promise<Jwt> | undefined;

  constructor(options: { target: CckmTarget; grant: GrantCall; log: Logger; now: () => number }) {
    this.#target = options.target;
    this.#grant = options.grant;
    this.#log = options.log;
    this.#now = options.now;
  }

  /** A JWT good for the next call: the cached one, or a fresh one (one grant for all waiting callers). */
  async bearer(): Promise<string> {
    const current = this.#jwt;
    if (current && this.#now() < current.renewAt) return current.value;
    return (await this.#renew()).value;
  }

  /**
   * After CipherTrust refused `rejected` with a 401: a new JWT, unless another caller already
   * replaced it (then that one), so a burst of 401s still makes one grant.
   */
  async afterRejection(rejected: string): Promise<string> {
    const current = this.#jwt;
    if (current && current.value !== rejected) return current.value;
    this.#jwt = undefined;
    return (await this.#renew()).value;
  }

  #renew(): Promise<Jwt> {
    this.#pending ??= this.#mint().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #mint(): Promise<Jwt> {
    if (this.#refreshToken) {
      try {
        return await this.#request({ grant_type: 'refresh_token', refresh_token: this.#refreshToken });
      } catch (error) {
        if (!isRefusal(error)) throw error;
        this.#log.warn(
          { vendorCode: error.vendorCode, httpStatus: error.httpStatus },
          'CipherTrust refused the refresh token; signing in with the password again',
        );
        this.#refreshToken = undefined;
      }
    }
    const target = this.#target;
    return this.#request({
      grant_type: 'password',
      username: target.username,
      password: target.password.reveal(),
      ...(target.domain ? { domain: target.domain } : {}),
      ...(target.authDomain ? { auth_domain: target.authDomain } : {}),
      // Minutes, like its sibling refresh_token_revoke_unused_in (the web console sends 30 for its
      // documented 30-minute idle timeout).
      refresh_token_lifetime: Math.ceil(target.refreshTokenLifetime / 60_000),
    });
  }

  async #request(body: Record<string, unknown>): Promise<Jwt> {
    const askedAt = this.#now();
    const answer = await this.#grant(body);
    const slot = `cckm/${this.#target.name}`;
    registerSecretValue(`${slot}/jwt`, answer.jwt);
    if (answer.refresh_token) {
      registerSecretValue(`${slot}/refresh-token`, answer.refresh_token);
      this.#refreshToken = answer.refresh_token;
    }
    const lifetimeMs = (answer.duration ?? DEFAULT_DURATION_S) * 1000;
    const early = Math.min(RENEW_EARLY_MS, lifetimeMs * RENEW_EARLY_FRACTION);
    this.#jwt = { value: answer.jwt, renewAt: askedAt + lifetimeMs - early };
    this.#log.debug({ grant: body.grant_type, lifetimeMs }, 'minted a CipherTrust JWT');
    return this.#jwt;
  }
}

/** The appliance answered the grant with a 4xx (not a rate limit): this refresh token is done for. */
function isRefusal(error: unknown): error is VendorError {
  return (
    error instanceof VendorError &&
    error.httpStatus !== undefined &&
    error.httpStatus >= 400 &&
    error.httpStatus < 500 &&
    error.httpStatus !== 429
  );
}
