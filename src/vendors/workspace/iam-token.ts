import type { Secret } from '../../config/secret.js';
import { registerSecretValue } from '../../config/secret.js';
import { VendorError } from '../../errors.js';
import type { VendorHttp } from '../http.js';
import { errorFromAnswer, VENDOR } from './errors.js';
import { parseAnswer, tokenAnswer } from './schemas.js';

/**
 * An IAM user's token for one project, shared by every call of one client (one client per
 * target per process). Single-flight: however many calls need a token at once, one is minted.
 * Renewed well before it expires: an hour early for Huawei's 24 h tokens (doc), or at 90 % of
 * the lifetime when that is shorter (test and sandbox tokens live seconds).
 */

export interface IamCredentials {
  user: string;
  password: Secret;
  /** Account (domain) name. */
  domain: string;
  /** Tokens must be scoped to the project in the Workspace URLs (doc). */
  projectId: string;
}

/** Huawei IAM tokens are valid 24 h (doc); used when an answer omits `expires_at`. */
const DEFAULT_LIFETIME_MS = 24 * 3_600_000;
const RENEW_MARGIN_MS = 3_600_000;
const RENEW_MARGIN_SHARE = 0.1;

export class IamTokenSource {
  readonly #http: VendorHttp;
  readonly #credentials: IamCredentials;
  readonly #now: () => number;
  #current: { value: string; renewAt: number } | undefined;
  #pending: Promise<string> | undefined;
  /** Tokens minted by this source (metrics, tests). */
  minted = 0;

  constructor(http: VendorHttp, credentials: IamCredentials, now: () => number) {
    this.#http = http;
    this.#credentials = credentials;
    this.#now = now;
  }

  token(): Promise<string> {
    if (this.#current && this.#now() < this.#current.renewAt) return Promise.resolve(this.#current.value);
    this.#pending ??= this.#mint().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /**
   * A call was refused with this token: forget it, unless another call has already replaced
   * it (a thousand calls refused at once must lead to one new token, not a thousand).
   */
  invalidate(value: string): void {
    if (this.#current?.value === value) this.#current = undefined;
  }

  async #mint(): Promise<string> {
    const { user, password, domain, projectId } = this.#credentials;
    const what = `the token request of IAM user "${user}" (account "${domain}")`;
    const answer = await this.#http.call({
      method: 'POST',
      path: '/v3/auth/tokens',
      query: { nocatalog: 'true' },
      headers: { 'Content-Type': 'application/json;charset=UTF-8' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: user, password: password.reveal(), domain: { name: domain } } },
          },
          scope: { project: { id: projectId } },
        },
      }),
    });
    if (answer.status !== 201 && answer.status !== 200) {
      throw errorFromAnswer(answer, { service: 'IAM', what, method: 'POST' });
    }
    const value = answer.headers['x-subject-token'];
    if (!value) {
      throw new VendorError(
        `Huawei IAM answered ${what} with HTTP ${answer.status} but no X-Subject-Token header`,
        {
          vendor: VENDOR,
          vendorCode: 'no-token',
          httpStatus: answer.status,
          requestId: answer.headers['x-request-id'],
        },
      );
    }
    registerSecretValue(`${this.#http.vendor}/${this.#http.target}/iam-token`, value);
    const { token } = parseAnswer(tokenAnswer, answer, what);
    const now = this.#now();
    const lifetime = lifetimeMs(token, now);
    this.#current = {
      value,
      renewAt: now + lifetime - Math.min(RENEW_MARGIN_MS, lifetime * RENEW_MARGIN_SHARE),
    };
    this.minted += 1;
    return value;
  }
}

/**
 * Lifetime from IAM's own two timestamps (`issued_at`, `expires_at`), so a clock difference
 * between IAM and this host does not matter; `now` stands in for a missing `issued_at`.
 */
function lifetimeMs(
  token: { expires_at: string; issued_at?: string | null | undefined },
  now: number,
): number {
  const expires = Date.parse(token.expires_at);
  if (Number.isNaN(expires)) return DEFAULT_LIFETIME_MS;
  const issued = token.issued_at ? Date.parse(token.issued_at) : now;
  return Math.max(0, expires - (Number.isNaN(issued) ? now : issued));
}
