import { registerSecretValue } from '../../config/secret.js';
import type { CallScope, VendorHttp } from '../http.js';
import { parseJsonAnswer } from '../http.js';
import type { ClientDeps } from '../types.js';
import { eceFailure, type ResourceCall, unexpectedAnswer } from './errors.js';
import { commandReplySchema, type EceKind, type ResourceInfo, resourceInfoSchema } from './schemas.js';
import type { EceTarget } from './target.js';

/** One stateless resource of a deployment; `refId` may be `_main` (the only one of its kind). */
export interface ResourceRef {
  deploymentId: string;
  kind: EceKind;
  refId: string;
}

/** What a resource read includes besides the current and pending plans (both always asked). */
export interface ResourceView {
  /** `show_plan_logs`: the attempts' steps; without it there are no steps at all (doc). */
  logs?: boolean;
  /** `show_plan_history`: finished attempts, where a failed attempt lands (it never becomes `current`). */
  history?: boolean;
}

export interface RestartWarning {
  code: string;
  message?: string | undefined;
}

/**
 * The ECE API calls opsbot makes, under `{url}/api/v1`. ECE credentials are static (an API key or
 * a built-in user's password): there is no session token to mint, cache or renew, so the client
 * is stateless and safe to share between all jobs of a target.
 */
export class EceClient {
  readonly target: string;
  readonly #http: VendorHttp;
  readonly #credentials: EceTarget;

  constructor(target: EceTarget, deps: ClientDeps) {
    this.target = target.name;
    this.#credentials = target;
    this.#http = deps.http();
  }

  /** `GET /deployments/{id}/{kind}/{refId}?show_plans=true[&show_plan_logs=true][&show_plan_history=true]`. */
  async getResource(ref: ResourceRef, view: ResourceView = {}, scope?: CallScope): Promise<ResourceInfo> {
    const answer = await this.#http.call({
      method: 'GET',
      path: resourcePath(ref),
      query: {
        show_plans: true,
        show_plan_logs: view.logs || undefined,
        show_plan_history: view.history || undefined,
      },
      headers: this.#headers(),
      scope,
    });
    if (answer.status !== 200) throw eceFailure(answer, this.#call('read', ref));
    const parsed = resourceInfoSchema.safeParse(parseJsonAnswer(answer, 'ECE'));
    if (!parsed.success) throw unexpectedAnswer(`GET ${ref.kind}/${ref.refId}`, parsed.error);
    return parsed.data;
  }

  /**
   * `POST …/_restart` with no body; `cancel_pending=true` only when asked, because it cancels a
   * plan someone else may have started. Answers 202 with optional warnings.
   */
  async restart(ref: ResourceRef, cancelPending: boolean, scope?: CallScope): Promise<RestartWarning[]> {
    const answer = await this.#http.call({
      method: 'POST',
      path: `${resourcePath(ref)}/_restart`,
      query: { cancel_pending: cancelPending || undefined },
      headers: this.#headers(),
      scope,
      mutates: true,
    });
    if (answer.status < 200 || answer.status > 299) {
      throw eceFailure(answer, { ...this.#call('restart', ref), cancelPending });
    }
    if (answer.text.trim() === '') return [];
    const parsed = commandReplySchema.safeParse(parseJsonAnswer(answer, 'ECE'));
    if (!parsed.success) throw unexpectedAnswer(`the restart of ${ref.kind}/${ref.refId}`, parsed.error);
    return parsed.data.warnings ?? [];
  }

  /** `DELETE …/plan/pending`: a graceful cancel (no `force_delete`) of the plan running now. */
  async cancelPendingPlan(ref: ResourceRef, scope?: CallScope): Promise<void> {
    const answer = await this.#http.call({
      method: 'DELETE',
      path: `${resourcePath(ref)}/plan/pending`,
      headers: this.#headers(),
      scope,
      mutates: true,
    });
    if (answer.status < 200 || answer.status > 299) throw eceFailure(answer, this.#call('cancel', ref));
  }

  /** The restart call as a person would read it, credentials masked. */
  describeRestart(ref: ResourceRef, cancelPending: boolean): string {
    const url = this.#http.resolve(`${resourcePath(ref)}/_restart`, {
      cancel_pending: cancelPending || undefined,
    });
    const scheme = this.#credentials.apiKey ? 'ApiKey' : 'Basic';
    return `POST ${url.href} (no body; Authorization: ${scheme} ••••)`;
  }

  #headers(): Record<string, string> {
    const { apiKey, username, password } = this.#credentials;
    if (apiKey) return { authorization: `ApiKey ${apiKey.reveal()}`, accept: 'application/json' };
    const basic = Buffer.from(`${username}:${password?.reveal()}`).toString('base64');
    // The encoded pair is as secret as the password: keep it out of any output too.
    registerSecretValue(`ece/${this.target}/basic`, basic);
    return { authorization: `Basic ${basic}`, accept: 'application/json' };
  }

  #call(operation: ResourceCall['operation'], ref: ResourceRef): ResourceCall {
    return { operation, target: this.target, ...ref };
  }
}

function resourcePath(ref: ResourceRef): string {
  return `deployments/${encodeURIComponent(ref.deploymentId)}/${ref.kind}/${encodeURIComponent(ref.refId)}`;
}
