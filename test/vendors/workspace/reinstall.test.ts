import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActionProgress } from '../../../src/vendors/types.js';
import { reinstallServer } from '../../../src/vendors/workspace/actions.js';
import type { WorkspaceClient } from '../../../src/vendors/workspace/index.js';
import {
  SIM_ACCESS_KEY,
  SIM_JOB_FAILURE,
  SIM_SECRET_KEY,
  startWorkspaceSimulator,
  type WorkspaceSimulator,
} from '../../../src/vendors/workspace/simulator.js';
import {
  akskTarget,
  clientFor,
  ctx,
  OTHER_SERVER_ID,
  SERVER_ID,
  sleep,
  thrown,
  tokenTarget,
} from './helpers.js';

const WAITING_MS = 60;
const RUNNING_MS = 120;

describe('workspace.server.reinstall against the simulator', () => {
  let sim: WorkspaceSimulator;
  let client: WorkspaceClient;

  beforeEach(async () => {
    sim = await startWorkspaceSimulator({ waitingMs: WAITING_MS, runningMs: RUNNING_MS });
    client = clientFor(tokenTarget(sim));
  });
  afterEach(async () => {
    await client.close();
    await sim.close();
  });

  /** Polls like the job runner until the action ends; returns every progress seen. */
  async function follow(first: ActionProgress, args = { serverId: SERVER_ID, updateAgent: false }) {
    const seen = [first];
    let last = first;
    for (let i = 0; i < 100 && last.outcome === 'running'; i += 1) {
      await sleep(20);
      last = await reinstallServer.poll!(ctx(client), args, JSON.parse(JSON.stringify(last)));
      seen.push(last);
    }
    return seen;
  }
  const reinstallCalls = () => sim.requests.filter((r) => r.path.endsWith('/actions/reinstall'));

  it('starts once, then follows the job WAITING → RUNNING → SUCCESS', async () => {
    const args = { serverId: SERVER_ID, updateAgent: false };
    const started = await reinstallServer.start!(ctx(client), args);
    const jobId = [...sim.jobs.keys()][0]!;
    expect(started).toEqual({
      outcome: 'running',
      vendorJobId: jobId,
      status: 'submitted',
      detail: expect.stringMatching(
        new RegExp(`^reinstall job ${jobId} accepted · Huawei request id [0-9a-f]{32}$`),
      ),
      memo: { jobId, serverId: SERVER_ID, requestId: expect.stringMatching(/^[0-9a-f]{32}$/) },
    });
    expect(reinstallCalls()).toHaveLength(1);
    expect(reinstallCalls()[0]!.body).toBe('{"update_access_agent":false}');

    const seen = await follow(started, args);
    const statuses = [...new Set(seen.map((p) => p.status))];
    expect(statuses).toEqual(['submitted', 'WAITING', 'RUNNING', 'SUCCESS']);
    expect(seen.find((p) => p.status === 'RUNNING')?.detail).toBe('sub-job REINSTALL_OS: running');
    const last = seen.at(-1)!;
    expect(last.outcome).toBe('succeeded');
    expect(last.vendorJobId).toBe(jobId);
    expect(last.result).toEqual([
      [
        'server APS-SALES-01 reinstalled from its image',
        ' (',
        { at: expect.any(Number) },
        ' → ',
        { at: expect.any(Number) },
        ')',
      ],
    ]);
    expect(sim.jobView(jobId)).toMatchObject({
      status: 'SUCCESS',
      job_type: 'REINSTALL_OS',
      sub_jobs_total: 1,
    });
    // Polling never calls the reinstall again.
    expect(reinstallCalls()).toHaveLength(1);
    expect(sim.requests.filter((r) => r.path === `/v2/${sim.projectId}/job/${jobId}`).length).toBe(
      seen.length - 1,
    );
  });

  it('sends update_access_agent true with --update-agent', async () => {
    await reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: true });
    expect(reinstallCalls()[0]!.body).toBe('{"update_access_agent":true}');
  });

  it('ends failed with the sub-job error code and message (failure scenario)', async () => {
    sim.setScenario('failure');
    const seen = await follow(
      await reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: false }),
    );
    const last = seen.at(-1)!;
    expect(last.outcome).toBe('failed');
    expect(last.status).toBe('FAILED');
    expect(last.detail).toBe('sub-job REINSTALL_OS: failed');
    expect(last.result).toEqual([
      `REINSTALL_OS on APS-SALES-01: ${SIM_JOB_FAILURE.error_code} — ${SIM_JOB_FAILURE.error_message}`,
    ]);
  });

  it('answers 409 to a second reinstall while the job runs, and accepts one after it ends', async () => {
    await reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: false });
    const busy = await thrown(() =>
      reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: false }),
    );
    expect(busy.httpStatus).toBe(409);
    expect(busy.vendorCode).toBe('WKS.00211103');
    expect(busy.retryable).toBe(true);
    expect(busy.retryAfterMs).toBe(30_000);
    // Another server is not busy.
    await reinstallServer.start!(ctx(client), { serverId: OTHER_SERVER_ID, updateAgent: false });
    await sleep(WAITING_MS + RUNNING_MS + 20);
    const again = await reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: false });
    expect(again.outcome).toBe('running');
  });

  it('keeps following a status it does not know, with a warning in the detail', async () => {
    const started = await reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: false });
    const jobId = started.vendorJobId!;
    sim.inject({
      path: `/job/${jobId}`,
      status: 200,
      body: { id: jobId, status: 'PAUSED', sub_jobs: [{ job_type: 'REINSTALL_OS', status: 'ABORTING' }] },
    });
    const odd = await reinstallServer.poll!(
      ctx(client),
      { serverId: SERVER_ID, updateAgent: false },
      started,
    );
    expect(odd.outcome).toBe('running');
    expect(odd.status).toBe('PAUSED');
    expect(odd.detail).toBe(
      'sub-job REINSTALL_OS: aborting · unknown job status "PAUSED": still following until the deadline',
    );
    const seen = await follow(odd);
    expect(seen.at(-1)!.outcome).toBe('succeeded');
  });

  it('reports a failed job without sub-job errors in one line', async () => {
    const started = await reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: false });
    sim.inject({
      path: '/job/',
      status: 200,
      body: { id: 'j-1', job_type: 'REINSTALL_OS', status: 'FAILED', sub_jobs: null },
    });
    const last = await reinstallServer.poll!(
      ctx(client),
      { serverId: SERVER_ID, updateAgent: false },
      started,
    );
    expect(last).toMatchObject({
      outcome: 'failed',
      detail: 'job REINSTALL_OS: failed',
      result: ['job j-1 ended FAILED without an error message from Huawei'],
    });
  });

  it('is slower under the slow scenario (10×)', async () => {
    sim.setScenario('slow');
    const started = await reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: false });
    await sleep(WAITING_MS + RUNNING_MS + 20);
    const later = await reinstallServer.poll!(
      ctx(client),
      { serverId: SERVER_ID, updateAgent: false },
      started,
    );
    expect(later.status).toBe('WAITING');
  });

  it('answers 503 ×3 then 502 ×2 under the 5xx-storm scenario, then recovers', async () => {
    const started = await reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: false });
    sim.setScenario('5xx-storm');
    const statuses: Array<number | undefined> = [];
    for (let i = 0; i < 5; i += 1) {
      const error = await thrown(() =>
        reinstallServer.poll!(ctx(client), { serverId: SERVER_ID, updateAgent: false }, started),
      );
      expect(error.retryable).toBe(true);
      statuses.push(error.httpStatus);
    }
    expect(statuses).toEqual([503, 503, 503, 502, 502]);
    const recovered = await reinstallServer.poll!(
      ctx(client),
      { serverId: SERVER_ID, updateAgent: false },
      started,
    );
    expect(recovered.outcome).toBe('running');
  });

  it('accepts any server id when told to (benchmarks), each with its own job', async () => {
    const open = await startWorkspaceSimulator({ acceptAnyServer: true });
    const anyClient = clientFor(tokenTarget(open));
    try {
      const ids = ['0b8f5d62-1a8e-4c55-9b1e-3f0f6c2d9e01', '0b8f5d62-1a8e-4c55-9b1e-3f0f6c2d9e02'];
      const started = await Promise.all(
        ids.map((serverId) => reinstallServer.start!(ctx(anyClient), { serverId, updateAgent: false })),
      );
      expect(new Set(started.map((p) => p.vendorJobId)).size).toBe(2);
      expect(open.servers.get(ids[0]!)?.name).toBe('APS-0B8F5D62');
    } finally {
      await anyClient.close();
      await open.close();
    }
  });

  describe('dry run', () => {
    it('shows the exact call with the token masked, and the server as it stands', async () => {
      const report = await reinstallServer.dryRun!(ctx(client), { serverId: SERVER_ID, updateAgent: true });
      expect(report.call).toBe(
        `POST ${sim.url}/v1/${sim.projectId}/app-servers/${SERVER_ID}/actions/reinstall {"update_access_agent":true} ` +
          '(Content-Type: application/json;charset=UTF-8, X-Auth-Token: ••••)',
      );
      expect(report.currentState).toEqual([
        'server APS-SALES-01: status REGISTERED, vm ACTIVE, task none',
        'maintenance mode off, 3 active session(s)',
      ]);
      expect(reinstallCalls()).toHaveLength(0);
    });

    it('says when a job is still running on the server', async () => {
      const started = await reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: false });
      const report = await reinstallServer.dryRun!(ctx(client), { serverId: SERVER_ID, updateAgent: false });
      expect(report.currentState[0]).toBe(
        'server APS-SALES-01: status REGISTERED, vm REBUILD, task rebuilding',
      );
      expect(report.currentState[2]).toBe(
        `last job REINSTALL_OS ${started.vendorJobId} WAITING — still running: the reinstall is refused (HTTP 409) until it ends`,
      );
    });

    it('says when Huawei does not know the server', async () => {
      const report = await reinstallServer.dryRun!(ctx(client), {
        serverId: '00000000-0000-4000-8000-000000000000',
        updateAgent: false,
      });
      expect(report.currentState).toEqual([
        'not found: Huawei Workspace answered WKS.00211104 (HTTP 404) to the lookup of server 00000000-0000-4000-8000-000000000000: The resource does not exist. Server 00000000-0000-4000-8000-000000000000 does not exist.',
      ]);
    });

    it('masks the access key and the signature under AK/SK', async () => {
      const signed = clientFor(akskTarget(sim));
      try {
        const report = await reinstallServer.dryRun!(ctx(signed), {
          serverId: SERVER_ID,
          updateAgent: false,
        });
        expect(report.call).toMatch(
          new RegExp(
            `^POST ${sim.url}/v1/${sim.projectId}/app-servers/${SERVER_ID}/actions/reinstall \\{"update_access_agent":false\\} ` +
              `\\(Content-Type: application/json;charset=UTF-8, X-Project-Id: ${sim.projectId}, X-Sdk-Date: \\d{8}T\\d{6}Z, ` +
              'Authorization: SDK-HMAC-SHA256 Access=••••, SignedHeaders=x-project-id;x-sdk-date, Signature=••••\\)$',
          ),
        );
        expect(report.call).not.toContain(SIM_ACCESS_KEY);
        expect(report.call).not.toContain(SIM_SECRET_KEY);
      } finally {
        await signed.close();
      }
    });
  });
});
