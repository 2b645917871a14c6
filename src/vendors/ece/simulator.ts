import {
  type ScriptedFault,
  type SimReply,
  type SimRequest,
  type SimServer,
  startSimServer,
} from '../simulator-server.js';
import type { EceKind } from './schemas.js';
import {
  beginPlan,
  cancelPending,
  findResource,
  hexId,
  newResource,
  renderResource,
  type SimDeployment,
  type SimResource,
  settle,
} from './simulator-plans.js';

/**
 * A local ECE coordinator for tests, the sandbox and benchmarks: the three calls opsbot makes
 * under `/api/v1` (read a stateless resource, `_restart` it, cancel its pending plan), with
 * ApiKey and basic auth, `BasicFailedReply` errors with the `x-cloud-error-codes` header, `_main`
 * resolution, and plans that progress step by step (see simulator-plans.ts).
 */

export type EceScenario = 'success' | 'failure' | 'slow' | 'token-expiry' | '5xx-storm';

export interface EceSimulatorOptions {
  port?: number;
  tls?: boolean;
  /** Keys accepted as `Authorization: ApiKey <key>`. Default `['sim-ece-api-key']`. */
  apiKeys?: string[];
  /** Built-in users accepted with basic auth. Default `{ admin: 'sim-ece-password' }`. */
  users?: Record<string, string>;
  /** Duration of one plan step (four steps per plan). Default 1,000 ms; ×10 in the `slow` scenario. */
  stepMs?: number;
  /** Reads of a resource during which a new restart plan is not visible yet. Default 1. */
  hiddenReads?: number;
  /** How many calls the `5xx-storm` scenario answers with 503/502. Default 4. */
  stormCalls?: number;
  /** The simulator's clock; tests pass a manual one to move plans along without waiting. */
  now?: () => number;
}

export interface SimDeploymentSpec {
  /** 32 lowercase hex characters; random when absent. */
  id?: string;
  name?: string;
  resources: Array<{ kind: EceKind; refId?: string; stopped?: boolean }>;
  /** How restarts of this deployment end (`failure`: an error at the third step). Default: the scenario's. */
  planOutcome?: 'success' | 'failure';
  /** Answer every restart of this deployment with a documented error instead of 202. */
  refuseRestart?: 'elevated-permissions' | 'no-longer-exists';
  /** Warnings returned with the 202 of every restart of this deployment. */
  restartWarnings?: Array<{ code: string; message?: string }>;
  /** Overrides the simulator's `hiddenReads` for this deployment. */
  hiddenReads?: number;
}

/** A resource's plans, as tests look at them. */
export interface SimResourceView {
  refId: string;
  stopped: boolean;
  pending: { id: string; name: string } | undefined;
  current: { id: string; name: string } | undefined;
  history: Array<{ id: string; name: string; end: string | undefined }>;
}

export interface EceSimulator {
  url: string;
  certificatePem: string | undefined;
  requests: SimRequest[];
  /** Credentials the default options accept. */
  credentials: { apiKey: string; username: string; password: string };
  inject(fault: ScriptedFault): void;
  clearFaults(): void;
  setScenario(name: EceScenario): void;
  readonly scenario: EceScenario;
  addDeployment(spec: SimDeploymentSpec): { id: string; resources: Array<{ kind: EceKind; refId: string }> };
  /** Someone else changes the resource: a plan that is pending (and visible) at once. */
  startPlan(deploymentId: string, kind: EceKind, refId?: string): string;
  inspect(deploymentId: string, kind: EceKind, refId?: string): SimResourceView;
  close(): Promise<void>;
}

const DEFAULT_API_KEY = 'sim-ece-api-key';
const DEFAULT_USER = { username: 'admin', password: 'sim-ece-password' };
const API = '/api/v1/deployments/:deploymentId/:kind/:refId';
const RESTART_QUERY = new Set(['cancel_pending']);
const READ_QUERY = new Set([
  'show_metadata',
  'show_plans',
  'show_plan_logs',
  'show_plan_history',
  'show_plan_defaults',
  'convert_legacy_plans',
  'show_settings',
]);
const CANCEL_QUERY = new Set(['force_delete', 'ignore_missing']);

export async function startEceSimulator(options: EceSimulatorOptions = {}): Promise<EceSimulator> {
  const now = options.now ?? Date.now;
  const apiKeys = new Set(options.apiKeys ?? [DEFAULT_API_KEY]);
  const users = options.users ?? { [DEFAULT_USER.username]: DEFAULT_USER.password };
  const deployments = new Map<string, SimDeployment>();
  let scenario: EceScenario = 'success';
  let stormLeft = 0;

  /** Proxy-level trouble first, then auth, then the deployment and the resource. */
  const guarded =
    (
      allowedQuery: Set<string>,
      handler: (req: SimRequest, deployment: SimDeployment, resource: SimResource) => SimReply,
    ) =>
    (req: SimRequest, params: Record<string, string>): SimReply => {
      if (stormLeft > 0) {
        stormLeft -= 1;
        return stormLeft % 2 === 1
          ? fail(503, 'root.service_unavailable', 'The service is temporarily unavailable', {
              'retry-after': '1',
            })
          : {
              status: 502,
              headers: { 'content-type': 'text/html' },
              body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
            };
      }
      const denied = authenticate(req.headers.authorization, apiKeys, users);
      if (denied) return denied;
      const badQuery = checkQuery(req.query, allowedQuery);
      if (badQuery) return badQuery;
      const deployment = deployments.get(params.deploymentId ?? '');
      if (!deployment) {
        return fail(
          404,
          'deployments.deployment_not_found',
          `The Deployment specified by [${params.deploymentId}] cannot be found`,
        );
      }
      const found = findResource(deployment, params.kind ?? '', params.refId ?? '');
      if ('missing' in found) return fail(404, 'deployments.deployment_resource_not_found', found.missing);
      settle(found.resource, now());
      return handler(req, deployment, found.resource);
    };

  const readResource = guarded(READ_QUERY, (req, deployment, resource) => ({
    status: 200,
    body: renderResource(deployment, resource, now(), {
      plans: req.query.get('show_plans') !== 'false',
      logs: req.query.get('show_plan_logs') === 'true',
      history: req.query.get('show_plan_history') === 'true',
    }),
  }));

  const restart = guarded(RESTART_QUERY, (req, deployment, resource) => {
    if (req.body.length > 0)
      return fail(400, 'root.malformed_request', 'This endpoint takes no request body');
    if (deployment.refuseRestart === 'elevated-permissions') {
      return fail(
        449,
        'root.unauthorized.rbac.elevated_permissions_required',
        'This action requires elevated permissions',
      );
    }
    if (deployment.refuseRestart === 'no-longer-exists') {
      return fail(
        500,
        'deployments.deployment_resource_no_longer_exists',
        'We have failed you. The resource no longer exists',
      );
    }
    if (resource.pending) {
      if (req.query.get('cancel_pending') !== 'true') {
        return fail(
          422,
          'deployments.deployment_resource_plan_change_error',
          'There is a plan still pending, cancel that or wait for it to complete before restarting',
        );
      }
      cancelPending(resource, now());
    }
    beginPlan(resource, now(), {
      stepMs: (options.stepMs ?? 1_000) * (scenario === 'slow' ? 10 : 1),
      hiddenReads: deployment.hiddenReads ?? options.hiddenReads ?? 1,
      fail: (deployment.planOutcome ?? (scenario === 'failure' ? 'failure' : 'success')) === 'failure',
    });
    return {
      status: 202,
      body: deployment.restartWarnings.length ? { warnings: deployment.restartWarnings } : {},
    };
  });

  const cancel = guarded(CANCEL_QUERY, (_req, deployment, resource) => {
    if (!resource.pending) {
      return fail(
        400,
        'deployments.resource_does_not_have_a_pending_plan',
        'The Resource does not have a pending plan',
      );
    }
    cancelPending(resource, now());
    return { status: 200, body: { id: deployment.id, kind: resource.kind, ref_id: resource.refId } };
  });

  const server: SimServer = await startSimServer(
    [
      { method: 'GET', path: API, handler: readResource },
      { method: 'POST', path: `${API}/_restart`, handler: restart },
      { method: 'DELETE', path: `${API}/plan/pending`, handler: cancel },
    ],
    { ...(options.port === undefined ? {} : { port: options.port }), ...(options.tls ? { tls: true } : {}) },
  );

  const resourceOf = (deploymentId: string, kind: EceKind, refId = '_main'): SimResource => {
    const deployment = deployments.get(deploymentId);
    const found = deployment
      ? findResource(deployment, kind, refId)
      : { missing: `no deployment ${deploymentId}` };
    if ('missing' in found) throw new Error(`simulator: ${found.missing}`);
    settle(found.resource, now());
    return found.resource;
  };

  return {
    url: server.url,
    certificatePem: server.certificatePem,
    requests: server.requests,
    credentials: { apiKey: DEFAULT_API_KEY, ...DEFAULT_USER },
    inject: server.inject,
    clearFaults: server.clearFaults,
    get scenario() {
      return scenario;
    },
    /**
     * `failure`: restarts fail at their third step. `slow`: steps take 10× longer.
     * `token-expiry`: like `success`: ECE's ApiKey and basic credentials have no token that could
     * expire mid-flight. `5xx-storm`: the next `stormCalls` calls answer 503 and 502 in turn.
     */
    setScenario(name) {
      scenario = name;
      stormLeft = name === '5xx-storm' ? (options.stormCalls ?? 4) : 0;
    },
    addDeployment(spec) {
      const id = spec.id ?? hexId();
      const resources = spec.resources.map((resource) =>
        newResource(
          resource.kind,
          resource.refId ?? `main-${resource.kind}`,
          resource.stopped ?? false,
          now(),
        ),
      );
      deployments.set(id, {
        id,
        name: spec.name ?? `deployment-${id.slice(0, 6)}`,
        resources,
        planOutcome: spec.planOutcome,
        refuseRestart: spec.refuseRestart,
        restartWarnings: spec.restartWarnings ?? [],
        hiddenReads: spec.hiddenReads,
      });
      return { id, resources: resources.map(({ kind, refId }) => ({ kind, refId })) };
    },
    startPlan(deploymentId, kind, refId) {
      const resource = resourceOf(deploymentId, kind, refId);
      if (resource.pending)
        throw new Error(`simulator: ${kind}/${resource.refId} already has a pending plan`);
      return beginPlan(
        resource,
        now(),
        { stepMs: options.stepMs ?? 1_000, hiddenReads: 0, fail: false },
        true,
      ).id;
    },
    inspect(deploymentId, kind, refId) {
      const resource = resourceOf(deploymentId, kind, refId);
      const brief = (attempt: { id: string; name: string } | undefined) =>
        attempt ? { id: attempt.id, name: attempt.name } : undefined;
      return {
        refId: resource.refId,
        stopped: resource.stopped,
        pending: brief(resource.pending),
        current: brief(resource.current),
        history: resource.history.map((attempt) => ({
          id: attempt.id,
          name: attempt.name,
          end: attempt.end,
        })),
      };
    },
    close: server.close,
  };
}

function fail(status: number, code: string, message: string, headers: Record<string, string> = {}): SimReply {
  return {
    status,
    headers: { 'x-cloud-error-codes': code, ...headers },
    body: { errors: [{ code, message }] },
  };
}

/** ECE answers 401 with a BasicFailedReply for a missing, malformed or wrong credential. */
function authenticate(
  header: string | undefined,
  apiKeys: Set<string>,
  users: Record<string, string>,
): SimReply | undefined {
  const refused = fail(401, 'root.unauthenticated', 'The supplied authentication is invalid');
  if (!header) return fail(401, 'root.unauthenticated', 'Authentication is required');
  const apiKey = /^ApiKey (\S+)$/.exec(header)?.[1];
  if (apiKey !== undefined) return apiKeys.has(apiKey) ? undefined : refused;
  const basic = /^Basic (\S+)$/.exec(header)?.[1];
  if (basic === undefined) return refused;
  const pair = Buffer.from(basic, 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  const user = pair.slice(0, colon);
  return colon > 0 && Object.hasOwn(users, user) && users[user] === pair.slice(colon + 1)
    ? undefined
    : refused;
}

/** Rejects parameters the real endpoint does not take, and booleans that are not true/false. */
function checkQuery(query: URLSearchParams, allowed: Set<string>): SimReply | undefined {
  for (const [key, value] of query) {
    if (!allowed.has(key)) return fail(400, 'root.unknown_parameter', `Unknown query parameter [${key}]`);
    if (value !== 'true' && value !== 'false') {
      return fail(
        400,
        'root.malformed_request',
        `Query parameter [${key}] must be true or false, not [${value}]`,
      );
    }
  }
  return undefined;
}
