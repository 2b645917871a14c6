import { type ArcgisSimulator, startArcgisSimulator } from '../src/vendors/arcgis/simulator.js';
import { type CckmSimulator, SIM_DOMAINS, startCckmSimulator } from '../src/vendors/cckm/simulator.js';
import { type EceSimulator, startEceSimulator } from '../src/vendors/ece/simulator.js';
import {
  SIM_SERVERS,
  SIM_USER,
  startWorkspaceSimulator,
  type WorkspaceSimulator,
} from '../src/vendors/workspace/simulator.js';
import type { VendorScenario } from './scenarios.js';

/**
 * The four vendor simulators with a few sample resources each, and the config that points the
 * bot at them. Credentials reach the config only as `{ env: NAME }` references, as in production.
 */

/** A command line to try, shown in the page's side bar. */
export interface Example {
  command: string;
  note: string;
}

export interface VendorLab {
  /** `targets:` of the config, one target named `lab` per vendor, and ECE's `prod`. */
  targets: Record<string, Record<string, unknown>>;
  /** The environment the secret references above resolve against. */
  env: Record<string, string>;
  examples: Example[];
  /** The ECE deployment Bob holds a sticky lock on (sandbox/calendar.ts). */
  lockedByBob: { vendor: string; target: string; resource: string };
  /** The command line (after the slash command) Alice schedules a minute ahead at start. */
  scheduled: string;
  setScenario(scenario: VendorScenario): void;
  close(): Promise<void>;
}

export const TARGET = 'lab';
/**
 * A second ECE target on the same simulator, standing for production: its restarts are
 * high-risk and need one approval from @sre and one from @security (see people.ts).
 */
export const PROD_TARGET = { vendor: 'ece', action: 'ece.resource.restart', target: 'prod' } as const;

const ECE_DEPLOYMENTS = [
  { id: '3f5a9c0e2b7d4e1f8a6b5c4d3e2f1a0b', name: 'logs-prod', kinds: ['kibana', 'apm'] },
  {
    id: '9d2c41e07b8a4f5e9c3d2b1a0f8e7d6c',
    name: 'search-staging',
    kinds: ['kibana', 'enterprise_search', 'integrations_server'],
  },
] as const;

export async function startVendorLab(): Promise<VendorLab> {
  const started: Array<{ close(): Promise<void> }> = [];
  const close = async () => {
    await Promise.allSettled(started.splice(0).map((simulator) => simulator.close()));
  };
  try {
    // The ArcGIS, Workspace and CCKM simulators come with sample resources of their own
    // (the ids used in the spec's examples); ECE deployments are added here.
    const arcgis: ArcgisSimulator = await startArcgisSimulator();
    started.push(arcgis);
    const ece: EceSimulator = await startEceSimulator();
    started.push(ece);
    for (const deployment of ECE_DEPLOYMENTS) {
      ece.addDeployment({
        id: deployment.id,
        name: deployment.name,
        resources: deployment.kinds.map((kind) => ({ kind })),
      });
    }
    const workspace: WorkspaceSimulator = await startWorkspaceSimulator();
    started.push(workspace);
    const cckm: CckmSimulator = await startCckmSimulator();
    started.push(cckm);

    const [deployment] = [...arcgis.deployments.values()];
    const [server] = SIM_SERVERS;
    const [domain] = SIM_DOMAINS;
    const [logs, search] = ECE_DEPLOYMENTS;
    return {
      targets: {
        arcgis: {
          [TARGET]: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } },
        },
        ece: {
          [TARGET]: { url: ece.url, apiKey: { env: 'ECE_API_KEY' } },
          [PROD_TARGET.target]: { url: ece.url, apiKey: { env: 'ECE_API_KEY' } },
        },
        workspace: {
          [TARGET]: {
            region: 'ap-southeast-1',
            url: workspace.url,
            iamUrl: workspace.url,
            projectId: workspace.projectId,
            auth: {
              type: 'token',
              user: SIM_USER.name,
              password: { env: 'WORKSPACE_PASSWORD' },
              domain: SIM_USER.domain,
            },
          },
        },
        cckm: {
          [TARGET]: {
            url: cckm.url,
            username: cckm.credentials.username,
            password: { env: 'CCKM_PASSWORD' },
          },
        },
      },
      env: {
        ARCGIS_PASSWORD: arcgis.password,
        ECE_API_KEY: ece.credentials.apiKey,
        WORKSPACE_PASSWORD: SIM_USER.password,
        CCKM_PASSWORD: cckm.credentials.password,
      },
      examples: [
        { command: '/ops help', note: 'what you may do' },
        {
          command: `/ops arcgis refresh-deployment ${deployment!.deploymentId}`,
          note: `ArcGIS ${deployment!.name}`,
        },
        { command: '/ops arcgis refresh-groups cartographers,analyst', note: 'ArcGIS group membership' },
        {
          command: `/ops ece restart ${logs.id} kibana --target prod --reason "OPS-123 Kibana stuck"`,
          note: `ECE ${logs.name} on prod: @sre + @security`,
        },
        {
          command: `/ops ece restart ${search.id} integrations_server --target lab`,
          note: `ECE ${search.name}: locked by Bob`,
        },
        {
          command: `/ops workspace reinstall ${server!.id} --update-agent`,
          note: `${server!.name}, high-risk`,
        },
        { command: `/ops cckm refresh ${domain!.id}`, note: `CCKM ${domain!.name}: frozen` },
        {
          command: `/ops cckm refresh ${domain!.id} --override --reason "OPS-77 key compromise"`,
          note: 'break-glass: + @security',
        },
        { command: '/ops freezes', note: 'change freezes' },
        { command: '/ops locks', note: 'sticky locks' },
        { command: '/ops cckm refresh-status', note: 'read-only, anyone' },
        { command: '/ops whoami ece.resource.restart', note: 'why may I (not)?' },
        { command: '/ops history', note: 'the audit trail' },
        { command: '/ops audit verify', note: 'is the audit chain intact? (Carol)' },
      ],
      lockedByBob: { vendor: 'ece', target: TARGET, resource: search.id },
      scheduled: `arcgis refresh-groups analyst`,
      setScenario(scenario) {
        // Faults a storm left unused are dropped, so setting a scenario again starts it afresh.
        for (const simulator of [arcgis, ece, workspace, cckm]) {
          simulator.clearFaults();
          simulator.setScenario(scenario);
        }
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
