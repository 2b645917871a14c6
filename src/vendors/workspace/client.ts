import type { CallScope, VendorHttp } from '../http.js';
import type { ClientDeps } from '../types.js';
import { AkSkAuth, type OutgoingRequest, type RequestAuth, TokenAuth } from './auth.js';
import { beforeSending, errorFromAnswer } from './errors.js';
import { IamTokenSource } from './iam-token.js';
import {
  type AppServer,
  jobAnswer,
  parseAnswer,
  reinstallAnswer,
  serverAnswer,
  type WorkspaceJob,
} from './schemas.js';
import { iamBaseUrl, type WorkspaceTarget, workspaceBaseUrl } from './target.js';

interface WorkspaceCall {
  method: 'GET' | 'POST';
  /** Path under the project, e.g. `/app-servers/{id}`; the version prefix comes separately. */
  path: string;
  version: 'v1' | 'v2';
  body?: Record<string, unknown>;
  /** The call in the user's words, for error sentences: "the reinstall of server …". */
  what: string;
  /** It changes something in the project (see HttpCall.mutates). */
  mutates?: boolean;
}

/**
 * The Workspace API for one target. Authentication lives here: an IAM token cached for all
 * calls of this client, or AK/SK signing at send time. A call refused with 401 under a token
 * is retried once with a new token.
 */
export class WorkspaceClient {
  readonly projectId: string;
  readonly #api: VendorHttp;
  readonly #iam: VendorHttp | undefined;
  readonly #auth: RequestAuth;
  readonly #busyWaitMs: number | undefined;

  constructor(target: WorkspaceTarget, deps: ClientDeps) {
    this.projectId = target.projectId;
    this.#busyWaitMs = target.busyWait;
    this.#api = deps.http({ baseUrl: workspaceBaseUrl(target), requestIdHeader: 'x-request-id' });
    if (target.auth.type === 'token') {
      this.#iam = deps.http({ baseUrl: iamBaseUrl(target), requestIdHeader: 'x-request-id' });
      const { user, password, domain } = target.auth;
      this.#auth = new TokenAuth(
        new IamTokenSource(this.#iam, { user, password, domain, projectId: target.projectId }, deps.now),
      );
    } else {
      this.#auth = new AkSkAuth(target.auth, target.projectId, deps.now);
    }
  }

  /** Tokens minted so far by this client (0 under AK/SK). */
  get tokensMinted(): number {
    return this.#auth instanceof TokenAuth ? this.#auth.source.minted : 0;
  }

  /** `POST /v1/{project_id}/app-servers/{server_id}/actions/reinstall`: returns the job id. */
  async reinstall(
    serverId: string,
    updateAccessAgent: boolean,
    scope?: CallScope,
  ): Promise<{ jobId: string; requestId: string | undefined }> {
    const call = reinstallCall(serverId, updateAccessAgent);
    const answer = await this.#send(call, scope);
    return {
      jobId: parseAnswer(reinstallAnswer, answer, call.what).job_id,
      requestId: answer.headers['x-request-id'],
    };
  }

  /** The reinstall call as it would be sent, every secret masked (dry runs). */
  previewReinstall(serverId: string, updateAccessAgent: boolean): string {
    const request = this.#outgoing(reinstallCall(serverId, updateAccessAgent));
    const headers = { ...request.headers, ...this.#auth.preview(request) };
    const headerText = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join(', ');
    return `${request.method} ${request.url.href} ${request.body.toString('utf8')} (${headerText})`;
  }

  /** `GET /v2/{project_id}/job/{job_id}` (the v1 job endpoint is deprecated, doc). */
  async job(jobId: string, scope?: CallScope): Promise<WorkspaceJob> {
    const call: WorkspaceCall = {
      method: 'GET',
      version: 'v2',
      path: `/job/${encodeURIComponent(jobId)}`,
      what: `the status request of job ${jobId}`,
    };
    return parseAnswer(jobAnswer, await this.#send(call, scope), call.what);
  }

  /** `GET /v1/{project_id}/app-servers/{server_id}`. */
  async server(serverId: string, scope?: CallScope): Promise<AppServer> {
    const call: WorkspaceCall = {
      method: 'GET',
      version: 'v1',
      path: `/app-servers/${encodeURIComponent(serverId)}`,
      what: `the lookup of server ${serverId}`,
    };
    return parseAnswer(serverAnswer, await this.#send(call, scope), call.what);
  }

  async close(): Promise<void> {
    await Promise.all([this.#api.close(), this.#iam?.close()]);
  }

  #outgoing(call: WorkspaceCall): OutgoingRequest {
    return {
      method: call.method,
      url: this.#api.resolve(`/${call.version}/${encodeURIComponent(this.projectId)}${call.path}`),
      headers: { 'Content-Type': 'application/json;charset=UTF-8' },
      body: Buffer.from(call.body === undefined ? '' : JSON.stringify(call.body)),
    };
  }

  async #send(call: WorkspaceCall, scope: CallScope | undefined) {
    const request = this.#outgoing(call);
    for (let attempt = 1; ; attempt += 1) {
      let auth: Record<string, string>;
      try {
        auth = await this.#auth.headers(request);
      } catch (error) {
        throw beforeSending(error);
      }
      const answer = await this.#api.call({
        method: call.method,
        path: request.url.href,
        headers: { ...request.headers, ...auth },
        body: call.method === 'GET' ? undefined : request.body,
        scope,
        mutates: call.mutates,
      });
      if (answer.status === 401 && attempt === 1 && this.#auth.refused(auth)) continue;
      if (answer.status >= 400) {
        throw errorFromAnswer(answer, {
          service: 'Workspace',
          what: call.what,
          method: call.method,
          busyWaitMs: this.#busyWaitMs,
        });
      }
      return answer;
    }
  }
}

function reinstallCall(serverId: string, updateAccessAgent: boolean): WorkspaceCall {
  return {
    method: 'POST',
    version: 'v1',
    path: `/app-servers/${encodeURIComponent(serverId)}/actions/reinstall`,
    // Always sent, false by default, so the vendor never picks a default for us.
    body: { update_access_agent: updateAccessAgent },
    what: `the reinstall of server ${serverId}`,
    mutates: true,
  };
}
