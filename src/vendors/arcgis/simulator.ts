import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import {
  type ScriptedFault,
  type SimReply,
  type SimRequest,
  type SimRoute,
  type SimServer,
  startSimServer,
} from '../simulator-server.js';
import {
  createJob,
  DEFAULT_POLLS,
  isJobOver,
  type JobScript,
  readJob,
  type SimJob,
} from './simulator-jobs.js';
import {
  arcgisError,
  htmlReply,
  type SimToken,
  SimTokenService,
  type TokenCounters,
} from './simulator-tokens.js';

/**
 * A stand-in for an ArcGIS Enterprise on Kubernetes site (10.9.1+): the token service, the
 * deployment refresh with its Job resource, group membership refresh, and the read-only
 * resources opsbot uses for dry runs. It checks requests the way the real site does (f=json,
 * form bodies, the token in the POST body, the Referer of referer-bound tokens) and answers
 * errors the way it does: HTTP 200 with a JSON error body.
 */

export type { JobOutcome, JobScript } from './simulator-jobs.js';

export type ArcgisScenario = 'success' | 'failure' | 'slow' | 'token-expiry' | '5xx-storm' | 'unavailable';

export interface SimDeployment {
  deploymentId: string;
  name: string;
  type: string;
  mode: string;
  provider: string;
  replicas: number;
  /** How refresh jobs of this deployment go; overrides the scenario. */
  script?: JobScript | undefined;
}

export interface ArcgisSimulatorOptions {
  port?: number;
  tls?: boolean;
  /** The web context: the site is `{origin}/{context}`. Default `arcgis`. */
  context?: string;
  /** Default `admin` / `sim-admin-password`. */
  username?: string;
  password?: string;
  /** Default `0123456789ABCDEF`. */
  orgId?: string;
  /** Token lifetime in ms for every token; default: the `expiration` asked, capped at `maxTokenMinutes`. */
  tokenLifetimeMs?: number;
  /** The server's cap on `expiration` (minutes). Default 120. */
  maxTokenMinutes?: number;
  /** Token lifetime under the `token-expiry` scenario. Default 1000 ms. */
  shortTokenLifetimeMs?: number;
  /** Replaces the three sample deployments. */
  deployments?: Array<Partial<SimDeployment>>;
  /** Known enterprise group names. Default `cartographers`, `analyst`, `gis-admins`. */
  groups?: string[];
  /** Defaults for every job (each deployment's `script` overrides it). */
  job?: JobScript;
  /** How long refreshMembership takes. Default 20 ms (×10 under `slow`). */
  membershipDelayMs?: number;
  /** How long a refresh with `async=false` (10.9.0 style) takes. Default 50 ms. */
  syncRefreshDelayMs?: number;
  /** Calls answered 503/502 when the `5xx-storm` scenario is set. Default 6. */
  stormCalls?: number;
  /** Clock for token expiry and job times. Default `Date.now`. */
  now?: () => number;
  scenario?: ArcgisScenario;
}

export interface ArcgisSimulatorCounters extends TokenCounters {
  /** Refresh calls accepted, per deployment id. */
  refreshCalls: Record<string, number>;
  jobReads: number;
  /** Accepted refreshMembership calls, and how often each group was refreshed. */
  membershipRefreshes: number;
  groupRefreshes: Record<string, number>;
}

export interface ArcgisSimulator {
  /** The site URL to configure as the target's `url`: `{origin}/{context}`. */
  url: string;
  origin: string;
  context: string;
  certificatePem: string | undefined;
  username: string;
  password: string;
  orgId: string;
  requests: SimRequest[];
  counters: ArcgisSimulatorCounters;
  deployments: Map<string, SimDeployment>;
  jobs: Map<string, SimJob>;
  groups: Set<string>;
  readonly scenario: ArcgisScenario;
  setScenario(scenario: ArcgisScenario): void;
  /** Adds a deployment (a fresh 21-character id unless given) and returns it. */
  addDeployment(deployment?: Partial<SimDeployment>): SimDeployment;
  /** Scripts the refresh jobs of one deployment: outcome, reads per status, UNAVAILABLE blips. */
  scriptDeployment(deploymentId: string, script: JobScript): void;
  addGroups(...names: string[]): void;
  /** Makes every token minted so far expired: the next call with one gets a 498. */
  expireTokens(): void;
  /** The next matching calls answer an HTML error page (as a proxy or web adaptor would). */
  failWithHtml(options?: { path?: string | RegExp; method?: string; status?: number; times?: number }): void;
  inject(fault: ScriptedFault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

const SAMPLE_DEPLOYMENTS: SimDeployment[] = [
  {
    deploymentId: 'kvyxph9w5h3o9vgk8dixn',
    name: 'shared-featureserver',
    type: 'FeatureServer',
    mode: 'Shared',
    provider: 'SDS',
    replicas: 2,
  },
  {
    deploymentId: 'kvymoiqt0cl52ldoma1fh',
    name: 'shared-mapserver',
    type: 'MapServer',
    mode: 'Shared',
    provider: 'ArcObjects11',
    replicas: 1,
  },
  {
    deploymentId: 'kcl3kjxkzpqxvqyr3eq9k',
    name: 'relational-store-primary',
    type: 'RelationalStore',
    mode: 'Primary',
    provider: 'Postgres',
    replicas: 1,
  },
];

/** Keeps at most this many jobs; the oldest go first (benchmarks create many). */
const MAX_JOBS = 200_000;

export async function startArcgisSimulator(options: ArcgisSimulatorOptions = {}): Promise<ArcgisSimulator> {
  const context = options.context ?? 'arcgis';
  const now = options.now ?? Date.now;
  const username = options.username ?? 'admin';
  const password = options.password ?? 'sim-admin-password';
  const orgId = options.orgId ?? '0123456789ABCDEF';
  const jobs = new Map<string, SimJob>();
  /** The latest refresh job of each deployment, for its status resource. */
  const latestJobs = new Map<string, SimJob>();
  const deployments = new Map<string, SimDeployment>();
  const groups = new Set(options.groups ?? ['cartographers', 'analyst', 'gis-admins']);
  const counters: ArcgisSimulatorCounters = {
    tokensMinted: 0,
    tokenRequests: 0,
    refreshCalls: {},
    jobReads: 0,
    membershipRefreshes: 0,
    groupRefreshes: {},
    tokenRejections: 0,
  };
  let scenario: ArcgisScenario = 'success';
  let server: SimServer | undefined;

  const addDeployment = (seed: Partial<SimDeployment> = {}): SimDeployment => {
    const deployment: SimDeployment = {
      deploymentId: seed.deploymentId ?? newDeploymentId(),
      name: seed.name ?? `shared-service-${deployments.size + 1}`,
      type: seed.type ?? 'FeatureServer',
      mode: seed.mode ?? 'Shared',
      provider: seed.provider ?? 'SDS',
      replicas: seed.replicas ?? 1,
      script: seed.script,
    };
    deployments.set(deployment.deploymentId, deployment);
    return deployment;
  };
  for (const seed of options.deployments ?? SAMPLE_DEPLOYMENTS) addDeployment(seed);

  /** How jobs go under the current scenario; a deployment's own script overrides it. */
  const scenarioScript = (): JobScript => {
    const base = options.job ?? {};
    const polls = { ...DEFAULT_POLLS, ...base.polls };
    switch (scenario) {
      case 'failure':
        return { ...base, outcome: 'FAILED' };
      case 'slow':
        return {
          ...base,
          polls: {
            SUBMITTED: polls.SUBMITTED * 10,
            EXECUTING: polls.EXECUTING * 10,
            CANCELLING: polls.CANCELLING * 10,
          },
        };
      case 'unavailable':
        return { ...base, unavailableOnPolls: [2, 3] };
      default:
        return base;
    }
  };

  const tokenLifetimeMs = (expirationMinutes: number): number => {
    if (scenario === 'token-expiry') return options.shortTokenLifetimeMs ?? 1000;
    return options.tokenLifetimeMs ?? Math.min(expirationMinutes, options.maxTokenMinutes ?? 120) * 60_000;
  };

  const tokens = new SimTokenService({ username, password, now, lifetimeMs: tokenLifetimeMs, counters });

  /** Wraps an admin handler with `authorize`. */
  const admin =
    (
      handler: (
        req: SimRequest,
        params: Record<string, string>,
        fields: Record<string, string>,
        token: SimToken,
      ) => SimReply | Promise<SimReply>,
    ) =>
    (req: SimRequest, params: Record<string, string>) => {
      const auth = tokens.authorize(req);
      return 'refusal' in auth ? auth.refusal : handler(req, params, auth.fields, auth.token);
    };

  const deploymentNotFound = (id: string) => arcgisError(404, `Deployment '${id}' does not exist.`, []);

  const root = `/${context}/admin`;
  const routes: SimRoute[] = [
    {
      method: 'POST',
      path: `/${context}/sharing/rest/generateToken`,
      handler: (req) => tokens.generateToken(req),
    },
    {
      method: 'GET',
      path: `/${context}/sharing/rest/generateToken`,
      handler: (req) => tokens.generateToken(req),
    },
    { method: 'GET', path: `${root}/orgs`, handler: admin(() => ({ body: { organizations: [orgId] } })) },
    {
      method: 'GET',
      path: `${root}/system/deployments`,
      handler: admin(() => ({ body: { deployments: [...deployments.values()].map(summary) } })),
    },
    {
      // Deprecated after 10.9 in favour of findDeploymentIds, still what 10.9.x offers.
      method: 'POST',
      path: `${root}/system/deployments/findDeployments`,
      handler: admin((_req, _params, fields) => {
        const filters: Array<[keyof SimDeployment, string | undefined]> = [
          ['name', fields.filterName],
          ['type', fields.filterType],
          ['deploymentId', fields.filterId],
          ['provider', fields.filterProvider],
          ['mode', fields.filterMode],
        ];
        const found = [...deployments.values()].filter((d) =>
          filters.every(([key, value]) => !value || d[key] === value),
        );
        return { body: { filteredDeployments: found.map(summary) } };
      }),
    },
    {
      method: 'GET',
      path: `${root}/system/deployments/:id`,
      handler: admin((_req, { id }) => {
        const deployment = deployments.get(id!);
        if (!deployment) return deploymentNotFound(id!);
        return {
          body: {
            ...summary(deployment),
            spec: { replicas: { min: deployment.replicas, max: deployment.replicas } },
          },
        };
      }),
    },
    {
      method: 'GET',
      path: `${root}/system/deployments/:id/status`,
      handler: admin((_req, { id }) => {
        const deployment = deployments.get(id!);
        if (!deployment) return deploymentNotFound(id!);
        const latest = latestJobs.get(deployment.deploymentId);
        const refreshing = latest !== undefined && !isJobOver(latest);
        return {
          body: {
            name: deployment.name,
            id: deployment.deploymentId,
            currentState: 'STARTED',
            kubernetesResourceKind: 'Deployment',
            kubernetesResourceName: `arcgis-${deployment.deploymentId}-${deployment.type.toLowerCase()}`,
            // Pods restart during a refresh.
            readyReplicas: refreshing ? 0 : deployment.replicas,
            totalReplicas: deployment.replicas,
          },
        };
      }),
    },
    {
      method: 'POST',
      path: `${root}/system/deployments/:id/refresh`,
      handler: admin(async (_req, { id }, fields, token) => {
        const deployment = deployments.get(id!);
        if (!deployment) return deploymentNotFound(id!);
        const mode = fields.async ?? 'false';
        if (mode !== 'true' && mode !== 'false') {
          return arcgisError(400, "Invalid value for parameter 'async'.", ["'async' must be true or false."]);
        }
        counters.refreshCalls[deployment.deploymentId] =
          (counters.refreshCalls[deployment.deploymentId] ?? 0) + 1;
        const script = { ...scenarioScript(), ...deployment.script };
        if (mode === 'false') {
          // The 10.9.0 behaviour: the call blocks until the refresh is over.
          await sleep((options.syncRefreshDelayMs ?? 50) * (scenario === 'slow' ? 10 : 1));
          return script.outcome === 'FAILED' || script.outcome === 'CANCELLED'
            ? { body: { status: 'failed', messages: [`Failed to refresh deployment '${id}'.`] } }
            : { body: { status: 'success' } };
        }
        const job = createJob(deployment.deploymentId, token.username, script, now());
        if (jobs.size >= MAX_JOBS) jobs.delete(jobs.keys().next().value!);
        jobs.set(job.jobid, job);
        latestJobs.set(deployment.deploymentId, job);
        return {
          body: {
            jobsUrl: `${server!.url}${root}/jobs/${job.jobid}`,
            jobID: job.jobid,
            jobStatus: 'SUBMITTED',
          },
        };
      }),
    },
    {
      method: 'GET',
      path: `${root}/jobs/:jobId`,
      handler: admin((_req, { jobId }) => {
        const job = jobs.get(jobId!);
        if (!job) return arcgisError(404, `Job '${jobId}' does not exist.`, []);
        counters.jobReads += 1;
        return { body: readJob(job, now(), `${root}/system/deployments/${job.deploymentId}/refresh`) };
      }),
    },
    {
      method: 'POST',
      path: `${root}/orgs/:org/security/groups/refreshMembership`,
      handler: admin(async (_req, { org }, fields) => {
        if (org !== orgId) return arcgisError(404, `Organization '${org}' does not exist.`, []);
        const names = (fields.groups ?? '')
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean);
        if (names.length === 0) return arcgisError(400, "'groups' must be specified.", []);
        const unknown = names.filter((name) => !groups.has(name));
        if (unknown.length > 0) {
          return arcgisError(
            400,
            'Unable to refresh group membership.',
            unknown.map((name) => `Group '${name}' does not exist.`),
          );
        }
        // Synchronous on the real site, and slow with many groups (doc).
        await sleep((options.membershipDelayMs ?? 20) * (scenario === 'slow' ? 10 : 1));
        if (scenario === 'failure') {
          return {
            body: {
              status: 'error',
              messages: [
                `Unable to refresh membership of group '${names[0]}': the identity store did not answer (LDAP timeout).`,
              ],
            },
          };
        }
        counters.membershipRefreshes += 1;
        for (const name of names) counters.groupRefreshes[name] = (counters.groupRefreshes[name] ?? 0) + 1;
        return { body: { status: 'success' } };
      }),
    },
  ];

  server = await startSimServer(routes, { port: options.port, tls: options.tls });
  const sim: ArcgisSimulator = {
    url: `${server.url}/${context}`,
    origin: server.url,
    context,
    certificatePem: server.certificatePem,
    username,
    password,
    orgId,
    requests: server.requests,
    counters,
    deployments,
    jobs,
    groups,
    get scenario() {
      return scenario;
    },
    setScenario(next) {
      scenario = next;
      if (next === '5xx-storm') startStorm(server!, options.stormCalls ?? 6);
    },
    addDeployment,
    scriptDeployment(deploymentId, script) {
      const deployment = deployments.get(deploymentId);
      if (!deployment) throw new Error(`the simulator has no deployment ${deploymentId}`);
      deployment.script = script;
    },
    addGroups: (...names) => {
      for (const name of names) groups.add(name);
    },
    expireTokens: () => tokens.expireAll(),
    failWithHtml({ path, method, status = 502, times = 1 } = {}) {
      server!.inject({
        path,
        method,
        times,
        ...htmlReply(status, `${status} ${STATUS_CODES[status] ?? 'Error'}`, 'nginx'),
      });
    },
    inject: (fault) => server!.inject(fault),
    clearFaults: () => server!.clearFaults(),
    close: () => server!.close(),
  };
  if (options.scenario) sim.setScenario(options.scenario);
  return sim;
}

/** The next `calls` calls answer as an overloaded ingress does: 503 pages, then 502 pages. */
function startStorm(server: SimServer, calls: number): void {
  const first = Math.ceil(calls / 2);
  server.inject({
    times: first,
    ...htmlReply(503, '503 Service Temporarily Unavailable', 'nginx'),
  });
  if (calls > first) server.inject({ times: calls - first, ...htmlReply(502, '502 Bad Gateway', 'nginx') });
}

function summary(d: SimDeployment) {
  return { deploymentId: d.deploymentId, name: d.name, type: d.type, mode: d.mode, provider: d.provider };
}

function newDeploymentId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `k${Array.from(randomBytes(20), (byte) => alphabet[byte % alphabet.length]).join('')}`;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
