import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { type CckmSimulator, SIM_DOMAINS, startCckmSimulator } from '../../src/vendors/cckm/simulator.js';
import { type EceSimulator, startEceSimulator } from '../../src/vendors/ece/simulator.js';
import {
  SIM_ACCESS_KEY,
  SIM_PROJECT_ID,
  SIM_SECRET_KEY,
  SIM_SERVERS,
  SIM_USER,
  startWorkspaceSimulator,
  type WorkspaceSimulator,
} from '../../src/vendors/workspace/simulator.js';
import { type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * Every vendor action over the whole pipeline: signed slash command → approval message → signed
 * click → the vendor's simulator → thread replies → final root. One bot serves all four vendors,
 * configured as production would be.
 */

let arcgis: ArcgisSimulator;
let ece: EceSimulator;
let workspace: WorkspaceSimulator;
let cckm: CckmSimulator;
let bot: Harness;

beforeAll(async () => {
  [arcgis, ece, workspace, cckm] = await Promise.all([
    startArcgisSimulator(),
    // Steps long enough that polls see each one even on a loaded machine.
    startEceSimulator({ stepMs: 250, hiddenReads: 1 }),
    startWorkspaceSimulator({ waitingMs: 60, runningMs: 150 }),
    startCckmSimulator({ domainStepMs: 40 }),
  ]);
});
afterAll(async () => {
  await Promise.all([arcgis.close(), ece.close(), workspace.close(), cckm.close()]);
});
afterEach(async () => {
  await bot?.stop();
});

async function startBot(workspaceAuth: 'token' | 'aksk' = 'aksk') {
  bot = await startHarness({
    env: {
      ARCGIS_PASSWORD: arcgis.password,
      ECE_API_KEY: ece.credentials.apiKey,
      HWC_AK: SIM_ACCESS_KEY,
      HWC_SK: SIM_SECRET_KEY,
      HWC_PASSWORD: SIM_USER.password,
      CCKM_PASSWORD: cckm.credentials.password,
    },
    targets: {
      arcgis: { prod: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } } },
      ece: { prod: { url: ece.url, apiKey: { env: 'ECE_API_KEY' } } },
      workspace: {
        apac: {
          region: 'ap-southeast-1',
          url: workspace.url,
          iamUrl: workspace.url,
          projectId: SIM_PROJECT_ID,
          auth:
            workspaceAuth === 'aksk'
              ? { type: 'aksk', accessKey: { env: 'HWC_AK' }, secretKey: { env: 'HWC_SK' } }
              : {
                  type: 'token',
                  user: SIM_USER.name,
                  password: { env: 'HWC_PASSWORD' },
                  domain: SIM_USER.domain,
                },
        },
      },
      cckm: {
        prod: { url: cckm.url, username: cckm.credentials.username, password: { env: 'CCKM_PASSWORD' } },
      },
    },
  });
}

async function requestAndApprove(text: string, approver: string = USERS.approver) {
  await bot.command(USERS.requester, text);
  const requestId = await bot.nextRequestId();
  await bot.click(approver, 'approve', requestId);
  return requestId;
}

async function finalState(requestId: string) {
  await waitFor(async () => {
    const request = await bot.opsbot.store.get(requestId);
    return (
      request?.phase === 'done' &&
      textOf(bot.root(requestId)).includes(request.state === 'succeeded' ? 'Succeeded' : '')
    );
  }, `request ${requestId} to end`);
  await waitFor(
    () => bot.thread(requestId).some((m) => m.metadata && JSON.stringify(m.metadata).includes('"final"')),
    'the final reply',
  );
  return (await bot.opsbot.store.get(requestId))!;
}

/**
 * The vendor calls the audit trail holds under this request: each run step passes its request
 * down with every call, so none is left unnamed.
 */
async function auditedCalls(requestId: string): Promise<string[]> {
  const trail = await bot.opsbot.store.auditTrail(500);
  return trail.filter((r) => r.requestId === requestId && r.kind === 'vendor-call').map((r) => r.text);
}

describe('every vendor action end to end', () => {
  it('ECE: restarts kibana, reporting each plan step, with 202 warnings in the thread', async () => {
    const deployment = ece.addDeployment({
      resources: [{ kind: 'kibana', refId: 'main-kibana' }],
      restartWarnings: [{ code: 'deployments.restart.slow', message: 'Kibana restarts take a while' }],
    });
    await startBot();
    const requestId = await requestAndApprove(`ece restart ${deployment.id} kibana`);
    const done = await finalState(requestId);
    expect(done.state).toBe('succeeded');
    const thread = bot.thread(requestId).map(textOf).join('\n');
    expect(thread).toContain('Kibana restarts take a while');
    expect(thread).toContain('step `rolling-restart`');
    expect(textOf(bot.thread(requestId).at(-1))).toContain('kibana/main-kibana restarted');
    const calls = await auditedCalls(requestId);
    expect(calls.some((t) => /POST \S+\/kibana\/main-kibana\/_restart → HTTP 2\d\d/.test(t))).toBe(true);
    expect(calls.some((t) => /GET \S+\/kibana\/main-kibana → HTTP 200/.test(t))).toBe(true);
  });

  it('ECE: says in the approval message that --cancel-pending cancels the running plan', async () => {
    const deployment = ece.addDeployment({ resources: [{ kind: 'apm', refId: 'main-apm' }] });
    await startBot();
    await bot.command(USERS.requester, `ece restart ${deployment.id} apm main-apm --cancel-pending`);
    const requestId = await bot.nextRequestId();
    expect(textOf(bot.root(requestId)).toLowerCase()).toContain('cancel');
  });

  it('ECE: a documented refusal (449) fails at once with one sentence naming the code', async () => {
    const deployment = ece.addDeployment({
      resources: [{ kind: 'kibana' }],
      refuseRestart: 'elevated-permissions',
    });
    await startBot();
    const requestId = await requestAndApprove(`ece restart ${deployment.id} kibana`);
    const done = await finalState(requestId);
    expect(done.state).toBe('failed');
    expect(done.outcome).toContain('root.unauthorized.rbac.elevated_permissions_required');
    expect(textOf(bot.thread(requestId).at(-1))).toContain('elevated');
  });

  it('Workspace: high-risk reinstall says the disk is wiped, needs a second person, and follows the job (AK/SK)', async () => {
    await startBot('aksk');
    const server = SIM_SERVERS[0]!;
    await bot.command(USERS.requester, `workspace reinstall ${server.id} --update-agent`);
    const requestId = await bot.nextRequestId();
    const root = textOf(bot.root(requestId));
    expect(root.toLowerCase()).toContain('system disk');
    expect(root).toContain('"confirm"');
    await bot.click(USERS.requester, 'approve', requestId);
    await waitFor(() => bot.ephemerals(USERS.requester).length === 1, 'the four-eyes refusal');
    await bot.click(USERS.approver, 'approve', requestId);
    const done = await finalState(requestId);
    expect(done.state).toBe('succeeded');
    expect(done.progress?.vendorJobId).toBeTruthy();
    const reinstall = workspace.requests.find((r) => r.path.endsWith('/actions/reinstall'));
    expect(JSON.parse(reinstall!.body)).toEqual({ update_access_agent: true });
    expect(reinstall!.headers.authorization).toMatch(/^SDK-HMAC-SHA256 Access=/);
    const calls = await auditedCalls(requestId);
    expect(calls.some((t) => /POST \S+\/actions\/reinstall → HTTP 200/.test(t))).toBe(true);
    expect(calls.some((t) => /GET \S+\/job\/\S+ → HTTP 200/.test(t))).toBe(true);
  });

  it('Workspace: a failed reinstall reports the sub-job error code and message (IAM token auth)', async () => {
    workspace.setScenario('failure');
    try {
      await startBot('token');
      const requestId = await requestAndApprove(`workspace reinstall ${SIM_SERVERS[1]!.id}`);
      const done = await finalState(requestId);
      expect(done.state).toBe('failed');
      expect(textOf(bot.thread(requestId).at(-1))).toContain('WKS.');
    } finally {
      workspace.setScenario('success');
    }
  });

  it('CCKM: refreshes two domains and reports each domain from detailed_status', async () => {
    await startBot();
    const [a, b] = SIM_DOMAINS;
    const requestId = await requestAndApprove(`cckm refresh ${a!.id},${b!.id}`);
    const done = await finalState(requestId);
    expect(done.state).toBe('succeeded');
    const last = textOf(bot.thread(requestId).at(-1));
    expect(last).toContain(a!.id);
    expect(last).toContain(b!.id);
    expect(cckm.grants.password).toBeGreaterThanOrEqual(1);
    const calls = await auditedCalls(requestId);
    expect(calls.some((t) => /POST \S+\/cckm\/dsm\/refresh → HTTP 2\d\d/.test(t))).toBe(true);
    expect(calls.some((t) => /GET \S+\/cckm\/dsm\/refresh\/\S+ → HTTP 200/.test(t))).toBe(true);
  });

  it('CCKM: refresh-status answers at once, ephemerally, paged, without approval', async () => {
    await startBot();
    await bot.command(USERS.requester, 'cckm refresh-status --limit 2');
    await waitFor(() => bot.ephemerals(USERS.requester).length === 1, 'the status list');
    const answer = textOf(bot.ephemerals(USERS.requester)[0]);
    expect(answer.toLowerCase()).toContain('refresh');
    expect(bot.slack.messages.filter((m) => !m.ephemeralTo)).toHaveLength(0);
  });

  it('ArcGIS: refresh-groups is synchronous and ends in one step', async () => {
    await startBot();
    const requestId = await requestAndApprove('arcgis refresh-groups cartographers,analyst');
    const done = await finalState(requestId);
    expect(done.state).toBe('succeeded');
    expect(arcgis.counters.groupRefreshes.cartographers).toBeGreaterThanOrEqual(1);
    const calls = await auditedCalls(requestId);
    expect(calls.some((t) => /POST \S+\/security\/groups\/refreshMembership → HTTP 200/.test(t))).toBe(true);
  });

  it('--dry-run shows the exact call with secrets masked and the current state, and changes nothing', async () => {
    const deployment = ece.addDeployment({ resources: [{ kind: 'kibana' }] });
    await startBot();
    const restartsBefore = ece.requests.filter((r) => r.path.endsWith('/_restart')).length;
    await bot.command(USERS.requester, `ece restart ${deployment.id} kibana --dry-run`);
    await bot.command(USERS.requester, `workspace reinstall ${SIM_SERVERS[2]!.id} --dry-run`);
    await bot.command(USERS.requester, `arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn --dry-run`);
    await bot.command(USERS.requester, `cckm refresh --all --dry-run`);
    await waitFor(() => bot.ephemerals(USERS.requester).length === 4, 'four dry runs');
    for (const message of bot.ephemerals(USERS.requester)) {
      const text = textOf(message);
      expect(text).toContain('Dry run');
      expect(text).toContain('Would call');
    }
    expect(ece.requests.filter((r) => r.path.endsWith('/_restart')).length).toBe(restartsBefore);
    expect(bot.slack.messages.filter((m) => !m.ephemeralTo)).toHaveLength(0);
  });
});
