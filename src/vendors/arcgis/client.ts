import { registerSecretValue } from '../../config/secret.js';
import { toOpsError, VendorError } from '../../errors.js';
import type { CallScope, VendorHttp } from '../http.js';
import type { ClientDeps } from '../types.js';
import { ArcgisTokenRejected, readArcgisAnswer, VENDOR } from './errors.js';
import {
  type DeploymentStatus,
  type DeploymentSummary,
  deploymentList,
  deploymentStatus,
  type JobResource,
  jobResource,
  organizations,
  parseAnswer,
  refreshAnswer,
  statusAnswer,
  tokenAnswer,
} from './schemas.js';
import { type ArcgisTarget, siteUrl } from './target.js';

/**
 * One ArcGIS site, shared by every job of this process that uses the target. It holds one token,
 * minted on first use (single-flight: a thousand concurrent calls mint one), renewed before it
 * expires, and renewed once more when the server still calls it invalid (498/499), after which
 * the call is retried exactly once.
 */

/** refreshMembership runs synchronously and can take minutes with many groups (doc). */
const MEMBERSHIP_TIMEOUT_MS = 5 * 60_000;

/** Esri's JS client treats a token as expired 5 minutes before `expires`. */
const RENEW_MARGIN_MS = 5 * 60_000;

/**
 * …but never more than a tenth of the token's life: with the short lifetimes of tests and the
 * simulator's token-expiry scenario (seconds), a fixed 5-minute margin would make every token
 * look expired at birth and mint one per call.
 */
const RENEW_MARGIN_SHARE = 0.1;

/** Job ids come from the vendor and go into a path: one plain segment, nothing else. */
const PLAIN_ID = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,127}$/;

interface CachedToken {
  value: string;
  /** When to mint the next one (`expires` minus the margin), on the `deps.now()` clock. */
  renewAt: number;
}

interface Call {
  /** What is being asked, in words, for error messages: "refresh deployment kvy…". */
  operation: string;
  method: 'GET' | 'POST';
  /** Path under the site, e.g. `admin/jobs/j1`. */
  path: string;
  fields?: Record<string, string>;
  timeoutMs?: number;
  /** The run step it is made for (see CallScope); token mints are for no one request. */
  scope?: CallScope | undefined;
  /** It changes something on the site (see HttpCall.mutates). */
  mutates?: boolean;
}

export type RefreshStarted =
  | { kind: 'job'; jobId: string; jobsUrl: string | undefined; jobStatus: string }
  /** 10.9.0 ignores `async` and answers once the refresh is over. */
  | { kind: 'done'; status: string };

export interface OrgId {
  id: string;
  source: 'configured' | 'discovered';
}

export class ArcgisClient {
  /** `https://host/context`. */
  readonly site: string;
  readonly #target: ArcgisTarget;
  readonly #deps: ClientDeps;
  readonly #http: VendorHttp;
  readonly #headers: Record<string, string>;
  #token: CachedToken | undefined;
  #minting: Promise<CachedToken> | undefined;
  #orgId: Promise<OrgId> | undefined;

  constructor(target: ArcgisTarget, deps: ClientDeps) {
    this.site = siteUrl(target);
    this.#target = target;
    this.#deps = deps;
    this.#http = deps.http({ baseUrl: `${this.site}/` });
    // A referer-bound token is refused unless every call carries the same Referer (doc).
    this.#headers = {
      accept: 'application/json',
      ...(target.client === 'referer' ? { referer: this.#referer } : {}),
    };
  }

  get #referer(): string {
    return this.#target.referer ?? this.site;
  }

  /** Starts the refresh (restart of the deployment's pods) as an asynchronous job. */
  async refreshDeployment(deploymentId: string, scope?: CallScope): Promise<RefreshStarted> {
    const operation = `refresh deployment ${deploymentId}`;
    const body = await this.#authorized({ operation, scope, ...this.refreshDeploymentCall(deploymentId) });
    const answer = parseAnswer(refreshAnswer, body, operation);
    if (answer.jobID !== undefined) {
      return {
        kind: 'job',
        jobId: plainJobId(answer.jobID),
        jobsUrl: answer.jobsUrl,
        jobStatus: answer.jobStatus ?? 'SUBMITTED',
      };
    }
    return { kind: 'done', status: answer.status ?? 'unknown' };
  }

  refreshDeploymentCall(deploymentId: string): Omit<Call, 'operation'> {
    return {
      method: 'POST',
      path: `admin/system/deployments/${encodeURIComponent(deploymentId)}/refresh`,
      fields: { async: 'true' },
      mutates: true,
    };
  }

  /** Reads the job resource once (10.9.1+). */
  async job(jobId: string, scope?: CallScope): Promise<JobResource> {
    const operation = `read job ${jobId}`;
    const body = await this.#authorized({
      operation,
      scope,
      method: 'GET',
      path: `admin/jobs/${encodeURIComponent(plainJobId(jobId))}`,
    });
    return parseAnswer(jobResource, body, operation);
  }

  /** How a deployment stands now: state and pods ready (read-only). */
  async deploymentStatus(deploymentId: string, scope?: CallScope): Promise<DeploymentStatus> {
    const operation = `read the status of deployment ${deploymentId}`;
    const body = await this.#authorized({
      operation,
      scope,
      method: 'GET',
      path: `admin/system/deployments/${encodeURIComponent(deploymentId)}/status`,
    });
    return parseAnswer(deploymentStatus, body, operation);
  }

  /** Every microservice deployment of the site (read-only; 10.9+). */
  async deployments(scope?: CallScope): Promise<DeploymentSummary[]> {
    const operation = 'list deployments';
    const body = await this.#authorized({
      operation,
      scope,
      method: 'GET',
      path: 'admin/system/deployments',
    });
    return parseAnswer(deploymentList, body, operation).deployments;
  }

  /**
   * The organization whose groups are refreshed: configured, or discovered once and kept (its
   * call is audited under the request that first asked).
   */
  orgId(scope?: CallScope): Promise<OrgId> {
    if (this.#target.orgId) return Promise.resolve({ id: this.#target.orgId, source: 'configured' });
    this.#orgId ??= this.#discoverOrgId(scope).catch((error: unknown) => {
      this.#orgId = undefined;
      throw error;
    });
    return this.#orgId;
  }

  async refreshMembership(orgId: string, groups: string[], scope?: CallScope): Promise<string> {
    const operation = `refresh the membership of ${groups.length === 1 ? 'group' : 'groups'} ${groups.join(', ')}`;
    const body = await this.#authorized({ operation, scope, ...this.refreshMembershipCall(orgId, groups) });
    return parseAnswer(statusAnswer, body, operation).status;
  }

  refreshMembershipCall(orgId: string, groups: string[]): Omit<Call, 'operation'> {
    return {
      method: 'POST',
      path: `admin/orgs/${encodeURIComponent(orgId)}/security/groups/refreshMembership`,
      fields: { groups: groups.join(',') },
      timeoutMs: MEMBERSHIP_TIMEOUT_MS,
      mutates: true,
    };
  }

  /** The exact call, token masked, for dry runs: `POST https://…/refresh (async=true, f=json, token=••••)`. */
  describeCall(call: Omit<Call, 'operation'>): string {
    const fields = Object.entries({ ...call.fields, f: 'json', token: '••••' }).map(([k, v]) => `${k}=${v}`);
    return `${call.method} ${this.#http.resolve(call.path).href} (${fields.join(', ')})`;
  }

  async close(): Promise<void> {
    await this.#http.close();
  }

  async #discoverOrgId(scope: CallScope | undefined): Promise<OrgId> {
    const operation = 'list organizations';
    const body = await this.#authorized({ operation, scope, method: 'GET', path: 'admin/orgs' });
    const ids = parseAnswer(organizations, body, operation).organizations;
    // ArcGIS Enterprise on Kubernetes has one organization per site (doc); anything else is a choice.
    if (ids.length !== 1 || !PLAIN_ID.test(ids[0]!)) {
      throw new VendorError(
        `ArcGIS lists ${ids.length} organizations at ${this.site}/admin/orgs; set orgId on the target to choose one`,
        { vendor: VENDOR, vendorCode: 'org-id-unknown' },
      );
    }
    return { id: ids[0]!, source: 'discovered' };
  }

  /** Sends a call with the current token; on 498/499 mints a new one and sends it once more. */
  async #authorized(call: Call): Promise<Record<string, unknown>> {
    const token = await this.#tokenBefore();
    try {
      return await this.#send(call, token);
    } catch (error) {
      if (!(error instanceof ArcgisTokenRejected)) throw error;
      this.#deps.log.info(
        { operation: call.operation, code: error.vendorCode },
        'arcgis token rejected; renewing',
      );
      // Drop only the token that failed: a thousand calls refused at once must still mint one.
      if (this.#token?.value === token) this.#token = undefined;
      const fresh = await this.#tokenBefore();
      try {
        return await this.#send(call, fresh);
      } catch (again) {
        if (!(again instanceof ArcgisTokenRejected)) throw again;
        throw new VendorError(
          `${again.message}, even with a new token (check the target's client and referer settings)`,
          { vendor: VENDOR, vendorCode: again.vendorCode ?? 'token', delivery: 'not-sent' },
        );
      }
    }
  }

  /**
   * A token for the call about to be made. If minting fails, that call was never sent, whatever the token call's
   * own fate: mark the error so, so that a failed start is retried rather than reported as
   * maybe-sent (the message stays the token call's own).
   */
  async #tokenBefore(): Promise<string> {
    try {
      return await this.#currentToken();
    } catch (error) {
      const failure = toOpsError(error);
      if (failure.delivery === 'not-sent') throw failure;
      throw new VendorError(failure.message, {
        vendor: VENDOR,
        vendorCode: failure instanceof VendorError ? failure.vendorCode : failure.code,
        httpStatus: failure instanceof VendorError ? failure.httpStatus : undefined,
        retryable: failure.retryable,
        retryAfterMs: failure.retryAfterMs,
        delivery: 'not-sent',
        cause: error,
      });
    }
  }

  async #send(call: Call, token: string | undefined): Promise<Record<string, unknown>> {
    // Every call says f=json: the default format is HTML (doc).
    const fields: Record<string, string> = { ...call.fields, f: 'json', ...(token ? { token } : {}) };
    const answer =
      call.method === 'GET'
        ? await this.#http.call({
            method: 'GET',
            path: call.path,
            query: fields,
            headers: this.#headers,
            timeoutMs: call.timeoutMs,
            scope: call.scope,
          })
        : await this.#http.call({
            method: 'POST',
            path: call.path,
            // The admin API wants the token in the POST body, never in the URL (doc).
            body: new URLSearchParams(fields).toString(),
            headers: { ...this.#headers, 'content-type': 'application/x-www-form-urlencoded' },
            timeoutMs: call.timeoutMs,
            scope: call.scope,
            mutates: call.mutates,
          });
    return readArcgisAnswer(answer, call.operation);
  }

  async #currentToken(): Promise<string> {
    const cached = this.#token;
    if (cached && this.#deps.now() < cached.renewAt) return cached.value;
    this.#minting ??= this.#mint().finally(() => {
      this.#minting = undefined;
    });
    return (await this.#minting).value;
  }

  async #mint(): Promise<CachedToken> {
    const target = this.#target;
    const operation = `generate a token for ${target.username}`;
    const body = await this.#send(
      {
        operation,
        method: 'POST',
        path: 'sharing/rest/generateToken',
        fields: {
          username: target.username,
          password: target.password.reveal(),
          client: target.client,
          ...(target.client === 'referer' ? { referer: this.#referer } : {}),
          expiration: String(target.tokenMinutes),
        },
      },
      undefined,
    );
    const answer = parseAnswer(tokenAnswer, body, operation);
    registerSecretValue(`arcgis/${target.name}/token`, answer.token);
    const now = this.#deps.now();
    const margin = Math.min(RENEW_MARGIN_MS, Math.max(0, answer.expires - now) * RENEW_MARGIN_SHARE);
    this.#token = { value: answer.token, renewAt: answer.expires - margin };
    return this.#token;
  }
}

function plainJobId(jobId: string): string {
  if (PLAIN_ID.test(jobId)) return jobId;
  throw new VendorError(`ArcGIS returned a job id that is not a plain id ("${jobId.slice(0, 60)}")`, {
    vendor: VENDOR,
    vendorCode: 'unexpected-answer',
  });
}
