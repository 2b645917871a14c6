import { randomUUID } from 'node:crypto';
import {
  type ScriptedFault,
  type SimHandler,
  type SimReply,
  type SimRequest,
  type SimRoute,
  type SimServer,
  startSimServer,
} from '../simulator-server.js';
import { huaweiTime, SimIdentity, type SimUser } from './simulator-identity.js';

/**
 * A stand-in for Huawei Cloud Workspace (application servers) and the IAM token endpoint, on
 * one local HTTP server: point both `url` and `iamUrl` of a target at it. Jobs move on by
 * time (WAITING → RUNNING → SUCCESS or FAILED), computed when asked, so 10,000 jobs in flight
 * cost a small record each. Error bodies follow the vendor doc; codes the doc does not give
 * are marked "simulated".
 */

export type WorkspaceScenario = 'success' | 'failure' | 'slow' | 'token-expiry' | '5xx-storm';

export interface WorkspaceSimulatorOptions {
  port?: number;
  projectId?: string;
  users?: SimUser[];
  /** Access key → secret key. */
  accessKeys?: Record<string, string>;
  /** Servers that exist (default SIM_SERVERS). */
  servers?: Array<{ id: string; name: string }>;
  /** Treat any server id as an existing server (benchmarks with thousands of servers). */
  acceptAnyServer?: boolean;
  /** Token lifetime (default 24 h, like IAM). */
  tokenLifetimeMs?: number;
  /** Token lifetime under the `token-expiry` scenario (default 3 s). */
  shortTokenLifetimeMs?: number;
  /** How long a new job stays WAITING (default 500 ms), then RUNNING (default 1 s). */
  waitingMs?: number;
  runningMs?: number;
  /** Largest accepted distance between `X-Sdk-Date` and the clock (default 15 min). */
  maxClockSkewMs?: number;
  /** The simulator's clock (default Date.now). */
  now?: () => number;
}

export const SIM_PROJECT_ID = '0605767ab1c24e4cb7d9fa3e51c0a5d2';
export const SIM_USER: SimUser = { name: 'opsbot', password: 'sim-iam-password', domain: 'acme-cloud' };
export const SIM_ACCESS_KEY = 'SIMAKQ7RZ4WXKV2M9TLP';
export const SIM_SECRET_KEY = 'sim-secret-key-b5f0c2d14e9a4f7c8e61';
export const SIM_SERVERS = [
  { id: '25b1dd14-0c84-4558-aa57-03a6c54b8e75', name: 'APS-SALES-01' },
  { id: '7c9e6679-7425-40de-944b-e07fc1f90ae7', name: 'APS-SALES-02' },
  { id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479', name: 'APS-DESIGN-01' },
];

/** The sub-job error of a failed reinstall (simulated code; the fields are the doc's). */
export const SIM_JOB_FAILURE = {
  error_code: 'WKS.00210317',
  error_message: 'Failed to reinstall the OS: the image of the server group is not available.',
};

/** The error body of each documented status (codes from Huawei's API definitions where given). */
const ERROR_BODIES: Record<number, { error_code: string; error_msg: string }> = {
  400: { error_code: 'WKS.00129901', error_msg: 'The request message is invalid.' },
  401: { error_code: 'APIGW.0301', error_msg: 'Incorrect IAM authentication information.' },
  403: { error_code: 'WKS.00081102', error_msg: 'User does not have permission to access this resource.' },
  404: { error_code: 'WKS.00211104', error_msg: 'The resource does not exist.' }, // simulated code
  405: { error_code: 'WKS.00211105', error_msg: 'The request method is not allowed.' }, // simulated code
  409: {
    error_code: 'WKS.00211103',
    error_msg: 'The request could not be completed due to a conflict of the resource.',
  },
  500: { error_code: 'WKS.00211401', error_msg: 'The requested operation failed. Please try again later.' },
  502: { error_code: 'APIGW.0201', error_msg: 'Backend unavailable.' },
  503: {
    error_code: 'WKS.00211503',
    error_msg: 'The service is temporarily unavailable. Please try again later.',
  }, // simulated code
};

/** `error_code`/`error_msg` as documented, or `code`/`message` as some gateways answer. */
export type ErrorShape = 'error_code' | 'code';

export function errorBody(status: number, shape: ErrorShape = 'error_code'): Record<string, string> {
  const body = ERROR_BODIES[status] ?? { error_code: `WKS.HTTP${status}`, error_msg: `HTTP ${status}` };
  return shape === 'code' ? { code: body.error_code, message: body.error_msg } : { ...body };
}

/** One application server the simulator knows. */
export interface SimAppServer {
  id: string;
  name: string;
  lastJobId: string | undefined;
}

/** One reinstall job; its status is computed from the time it was created. */
export interface SimJob {
  id: string;
  subJobId: string;
  serverId: string;
  serverName: string;
  createdAt: number;
  waitingMs: number;
  runningMs: number;
  fails: boolean;
  updateAccessAgent: boolean;
}

export interface WorkspaceSimulator {
  url: string;
  projectId: string;
  requests: SimServer['requests'];
  inject(fault: ScriptedFault): void;
  /** Injects the documented error body of `status` (with an X-Request-Id) in front of matching calls. */
  injectError(status: number, match?: Omit<ScriptedFault, 'status' | 'body'> & { shape?: ErrorShape }): void;
  clearFaults(): void;
  setScenario(name: WorkspaceScenario): void;
  readonly scenario: WorkspaceScenario;
  readonly servers: ReadonlyMap<string, SimAppServer>;
  readonly jobs: ReadonlyMap<string, SimJob>;
  /** The job as `GET /v2/{project_id}/job/{job_id}` would answer now. */
  jobView(jobId: string): Record<string, unknown> | undefined;
  readonly tokensIssued: number;
  /** Invalidates every token issued so far (a password change). */
  revokeTokens(): void;
  close(): Promise<void>;
}

const SLOW_FACTOR = 10;
/** What the `5xx-storm` scenario answers to the next calls, in order. */
const STORM: Array<{ status: number; times: number }> = [
  { status: 503, times: 3 },
  { status: 502, times: 2 },
];

export async function startWorkspaceSimulator(
  options: WorkspaceSimulatorOptions = {},
): Promise<WorkspaceSimulator> {
  const now = options.now ?? Date.now;
  const projectId = options.projectId ?? SIM_PROJECT_ID;
  const timing = {
    tokenLifetimeMs: options.tokenLifetimeMs ?? 24 * 3_600_000,
    shortTokenLifetimeMs: options.shortTokenLifetimeMs ?? 3_000,
    waitingMs: options.waitingMs ?? 500,
    runningMs: options.runningMs ?? 1_000,
  };
  const identity = new SimIdentity({
    projectId,
    users: options.users ?? [SIM_USER],
    accessKeys: options.accessKeys ?? { [SIM_ACCESS_KEY]: SIM_SECRET_KEY },
    maxClockSkewMs: options.maxClockSkewMs ?? 15 * 60_000,
    now,
  });
  const servers = new Map<string, SimAppServer>(
    (options.servers ?? SIM_SERVERS).map((s) => [s.id, { id: s.id, name: s.name, lastJobId: undefined }]),
  );
  const jobs = new Map<string, SimJob>();
  let scenario: WorkspaceScenario = 'success';

  const findServer = (id: string): SimAppServer | undefined => {
    const known = servers.get(id);
    if (known || !options.acceptAnyServer) return known;
    const added = { id, name: `APS-${id.slice(0, 8).toUpperCase()}`, lastJobId: undefined };
    servers.set(id, added);
    return added;
  };

  const jobStatus = (job: SimJob): 'WAITING' | 'RUNNING' | 'SUCCESS' | 'FAILED' => {
    const elapsed = now() - job.createdAt;
    if (elapsed < job.waitingMs) return 'WAITING';
    if (elapsed < job.waitingMs + job.runningMs) return 'RUNNING';
    return job.fails ? 'FAILED' : 'SUCCESS';
  };

  const jobView = (job: SimJob): Record<string, unknown> => {
    const status = jobStatus(job);
    const ended = status === 'SUCCESS' || status === 'FAILED';
    const begin = huaweiTime(job.createdAt);
    const end = ended ? huaweiTime(job.createdAt + job.waitingMs + job.runningMs) : null;
    return {
      id: job.id,
      job_type: 'REINSTALL_OS',
      begin_time: begin,
      end_time: end,
      status,
      sub_jobs_total: 1,
      sub_jobs: [
        {
          id: job.subJobId,
          job_id: job.id,
          job_type: 'REINSTALL_OS',
          status,
          begin_time: begin,
          end_time: end,
          error_code: status === 'FAILED' ? SIM_JOB_FAILURE.error_code : null,
          error_message: status === 'FAILED' ? SIM_JOB_FAILURE.error_message : null,
          project_id: projectId,
          job_resource_info: { resource_id: job.serverId, resource_name: job.serverName },
        },
      ],
    };
  };

  const serverView = (server: SimAppServer): Record<string, unknown> => {
    const job = server.lastJobId ? jobs.get(server.lastJobId) : undefined;
    const status = job ? jobStatus(job) : undefined;
    const rebuilding = status === 'WAITING' || status === 'RUNNING';
    return {
      id: server.id,
      name: server.name,
      machine_name: server.name,
      server_group_name: 'sim-server-group',
      status: 'REGISTERED',
      maintain_status: false,
      os_type: 'Windows',
      image_id: 'a6ea73e0-9f4b-11ec-b909-0242ac120002',
      session_count: job ? 0 : 3,
      vm_status: rebuilding ? 'REBUILD' : status === 'FAILED' ? 'ERROR' : 'ACTIVE',
      task_status: rebuilding ? 'rebuilding' : status === 'FAILED' ? 'rebuild_fail' : null,
      job_id: job?.id ?? null,
      job_type: job ? 'REINSTALL_OS' : null,
      job_status: status ?? null,
      job_time: job ? huaweiTime(job.createdAt) : null,
    };
  };

  const fail = (status: number, detail?: string): SimReply => {
    const body = errorBody(status);
    return { status, body: detail ? { ...body, error_msg: `${body.error_msg} ${detail}` } : body };
  };

  /** Authenticates, checks the project, then runs the handler. */
  const guarded =
    (handler: SimHandler): SimHandler =>
    (req, params) =>
      identity.authenticate(req, params.projectId ?? '') ?? handler(req, params);

  const reinstall: SimHandler = (req, params) => {
    if (!(req.headers['content-type'] ?? '').includes('application/json')) {
      return fail(400, 'The body must be application/json.');
    }
    let body: unknown;
    try {
      body = JSON.parse(req.body);
    } catch {
      return fail(400, 'The body is not valid JSON.');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return fail(400, 'The body must be an object.');
    }
    const update = (body as Record<string, unknown>).update_access_agent;
    if (update !== undefined && typeof update !== 'boolean') {
      return fail(400, 'update_access_agent must be a boolean.');
    }
    const server = findServer(params.serverId!);
    if (!server) return fail(404, `Server ${params.serverId} does not exist.`);
    const running = server.lastJobId ? jobs.get(server.lastJobId) : undefined;
    if (running && ['WAITING', 'RUNNING'].includes(jobStatus(running))) {
      return fail(409, `Server ${server.id} is busy with job ${running.id}.`);
    }
    const factor = scenario === 'slow' ? SLOW_FACTOR : 1;
    const job: SimJob = {
      id: randomUUID(),
      subJobId: randomUUID(),
      serverId: server.id,
      serverName: server.name,
      createdAt: now(),
      waitingMs: timing.waitingMs * factor,
      runningMs: timing.runningMs * factor,
      fails: scenario === 'failure',
      updateAccessAgent: update === true,
    };
    jobs.set(job.id, job);
    server.lastJobId = job.id;
    return { status: 200, body: { job_id: job.id } };
  };

  const methodNotAllowed: SimHandler = () => fail(405);
  const otherMethods = ['GET', 'PUT', 'PATCH', 'DELETE'];
  const reinstallPath = '/v1/:projectId/app-servers/:serverId/actions/reinstall';
  const jobPath = '/v2/:projectId/job/:jobId';

  const routes: SimRoute[] = [
    {
      method: 'POST',
      path: '/v3/auth/tokens',
      handler: (req) =>
        identity.issueToken(
          req,
          scenario === 'token-expiry' ? timing.shortTokenLifetimeMs : timing.tokenLifetimeMs,
        ),
    },
    { method: 'POST', path: reinstallPath, handler: guarded(reinstall) },
    ...otherMethods.map((method) => ({ method, path: reinstallPath, handler: guarded(methodNotAllowed) })),
    {
      method: 'GET',
      path: '/v1/:projectId/app-servers/:serverId',
      handler: guarded((_req, params) => {
        const server = findServer(params.serverId!);
        return server
          ? { status: 200, body: serverView(server) }
          : fail(404, `Server ${params.serverId} does not exist.`);
      }),
    },
    {
      method: 'GET',
      path: jobPath,
      handler: guarded((_req, params) => {
        const job = jobs.get(params.jobId!);
        return job ? { status: 200, body: jobView(job) } : fail(404, `Job ${params.jobId} does not exist.`);
      }),
    },
    ...['POST', 'PUT', 'PATCH', 'DELETE'].map((method) => ({
      method,
      path: jobPath,
      handler: guarded(methodNotAllowed),
    })),
  ];

  const sim = await startSimServer(
    routes.map((route) => ({ ...route, handler: withRequestId(route.handler) })),
    { port: options.port },
  );

  const injectError: WorkspaceSimulator['injectError'] = (status, match = {}) => {
    const { shape, ...where } = match;
    sim.inject({
      ...where,
      status,
      body: errorBody(status, shape),
      headers: { 'X-Request-Id': requestId() },
    });
  };

  return {
    url: sim.url,
    projectId,
    requests: sim.requests,
    inject: sim.inject,
    injectError,
    clearFaults: sim.clearFaults,
    setScenario(name) {
      scenario = name;
      if (name === '5xx-storm') for (const { status, times } of STORM) injectError(status, { times });
    },
    get scenario() {
      return scenario;
    },
    servers,
    jobs,
    jobView: (jobId) => {
      const job = jobs.get(jobId);
      return job ? jobView(job) : undefined;
    },
    get tokensIssued() {
      return identity.tokensIssued;
    },
    revokeTokens: () => identity.revokeTokens(),
    close: sim.close,
  };
}

function requestId(): string {
  return randomUUID().replace(/-/g, '');
}

/** Every answer carries an `X-Request-Id`, as Huawei's do (kept by opsbot for the audit). */
function withRequestId(handler: SimHandler): SimHandler {
  return async (req: SimRequest, params) => {
    const reply = await handler(req, params);
    return { ...reply, headers: { 'X-Request-Id': requestId(), ...reply.headers } };
  };
}
