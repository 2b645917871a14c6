import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VendorError } from '../../../src/errors.js';
import { UNAVAILABLE_CAP } from '../../../src/vendors/arcgis/refresh-deployment.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../../src/vendors/arcgis/simulator.js';
import { action, clientFor, pollToEnd, rejection } from './support.js';

const refresh = action('refresh-deployment');
const ID = 'kvyxph9w5h3o9vgk8dixn';

let sim: ArcgisSimulator;
beforeAll(async () => {
  sim = await startArcgisSimulator();
});
afterAll(() => sim.close());
afterEach(() => {
  sim.setScenario('success');
  sim.clearFaults();
  sim.deployments.get(ID)!.script = undefined;
});

function statuses(seen: Array<{ status: string }>): string[] {
  return seen.map((p) => p.status);
}

describe('refresh-deployment: start → poll → end', () => {
  it('walks SUBMITTED → EXECUTING → COMPLETED and reports the job result', async () => {
    const { ctx } = clientFor(sim);
    const args = refresh.args.parse({ deploymentId: ID });
    const before = sim.counters.refreshCalls[ID] ?? 0;

    const started = await refresh.start!(ctx, args);
    expect(started).toMatchObject({ outcome: 'running', status: 'SUBMITTED', detail: 'refresh queued' });
    expect(started.vendorJobId).toMatch(/^j[0-9a-f]{32}$/);
    expect(started.memo).toMatchObject({ jobId: started.vendorJobId, unavailableStreak: 0 });
    expect((started.memo as { jobsUrl: string }).jobsUrl).toBe(
      `${sim.url}/admin/jobs/${started.vendorJobId}`,
    );

    const seen = await pollToEnd('refresh-deployment', ctx, args, started);
    expect(statuses(seen)).toEqual(['SUBMITTED', 'SUBMITTED', 'EXECUTING', 'EXECUTING', 'COMPLETED']);
    const end = seen.at(-1)!;
    expect(end.outcome).toBe('succeeded');
    expect(end.detail).toBe('deployment re-created');
    expect(end.result).toEqual([
      'result status: success',
      `message: Deployment '${ID}' was refreshed successfully.`,
    ]);
    expect(sim.counters.refreshCalls[ID]).toBe(before + 1);

    const refreshCall = sim.requests.find((r) => r.path.endsWith(`/deployments/${ID}/refresh`))!;
    const form = new URLSearchParams(refreshCall.body);
    expect(form.get('async')).toBe('true');
    expect(form.get('f')).toBe('json');
    expect(form.get('token')).toBeTruthy();
    expect(refreshCall.query.get('token')).toBeNull();
    expect(refreshCall.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(refreshCall.headers.referer).toBe(sim.url);
  });

  it('ends failed with the job error under the failure scenario', async () => {
    sim.setScenario('failure');
    const { ctx } = clientFor(sim);
    const args = refresh.args.parse({ deploymentId: ID });
    const seen = await pollToEnd('refresh-deployment', ctx, args, await refresh.start!(ctx, args));
    const end = seen.at(-1)!;
    expect(end).toMatchObject({ outcome: 'failed', status: 'FAILED', detail: 'refresh failed' });
    expect(end.result).toEqual([
      'result status: failed',
      `message: Failed to refresh deployment '${ID}'.`,
      'error: 500 The pods of the deployment did not become ready within 600 seconds. — Readiness probe failed: HTTP probe failed with statuscode: 503',
    ]);
  });

  it('passes through CANCELLING to CANCELLED', async () => {
    sim.scriptDeployment(ID, { outcome: 'CANCELLED', polls: { SUBMITTED: 1, EXECUTING: 1, CANCELLING: 2 } });
    const { ctx } = clientFor(sim);
    const args = refresh.args.parse({ deploymentId: ID });
    const seen = await pollToEnd('refresh-deployment', ctx, args, await refresh.start!(ctx, args));
    expect(statuses(seen)).toEqual([
      'SUBMITTED',
      'SUBMITTED',
      'EXECUTING',
      'CANCELLING',
      'CANCELLING',
      'CANCELLED',
    ]);
    expect(seen.slice(0, -1).every((p) => p.outcome === 'running')).toBe(true);
    expect(seen.at(-1)!.outcome).toBe('cancelled');
  });

  it('keeps following through an occasional UNAVAILABLE and resets the count', async () => {
    sim.setScenario('unavailable');
    const { ctx } = clientFor(sim);
    const args = refresh.args.parse({ deploymentId: ID });
    const seen = await pollToEnd('refresh-deployment', ctx, args, await refresh.start!(ctx, args));
    expect(statuses(seen)).toEqual([
      'SUBMITTED',
      'SUBMITTED',
      'UNAVAILABLE',
      'UNAVAILABLE',
      'EXECUTING',
      'EXECUTING',
      'COMPLETED',
    ]);
    expect(seen.map((p) => (p.memo as { unavailableStreak: number }).unavailableStreak)).toEqual([
      0, 0, 1, 2, 0, 0, 0,
    ]);
    expect(seen[2]).toMatchObject({
      outcome: 'running',
      detail: 'job status unavailable for now; still following',
    });
    expect(seen.at(-1)!.outcome).toBe('succeeded');
  });

  it(`fails after ${UNAVAILABLE_CAP} UNAVAILABLE answers in a row`, async () => {
    sim.scriptDeployment(ID, { unavailableOnPolls: Array.from({ length: 20 }, (_, i) => i + 2) });
    const { ctx } = clientFor(sim);
    const args = refresh.args.parse({ deploymentId: ID });
    const seen = await pollToEnd('refresh-deployment', ctx, args, await refresh.start!(ctx, args));
    const end = seen.at(-1)!;
    expect(seen).toHaveLength(2 + UNAVAILABLE_CAP);
    expect(end).toMatchObject({ outcome: 'failed', status: 'UNAVAILABLE' });
    expect(end.result![0]).toContain(
      `UNAVAILABLE for job ${end.vendorJobId} ${UNAVAILABLE_CAP} times in a row`,
    );
  });

  it('keeps running on a status the doc does not list, and says so once', async () => {
    const { ctx } = clientFor(sim);
    const args = refresh.args.parse({ deploymentId: ID });
    const started = await refresh.start!(ctx, args);
    sim.inject({
      path: '/admin/jobs/',
      body: { jobid: started.vendorJobId, status: 'QUEUED' },
      status: 200,
      times: 2,
    });
    const first = await refresh.poll!(ctx, args, started);
    const second = await refresh.poll!(ctx, args, first);
    expect(first).toMatchObject({
      outcome: 'running',
      status: 'QUEUED',
      detail: 'unknown job status; still following',
    });
    expect(first.notes?.[0]).toContain('"QUEUED"');
    expect(second.notes).toBeUndefined();
  });

  it('succeeds at once when the site refreshes synchronously (10.9.0 ignores async)', async () => {
    sim.inject({ method: 'POST', path: '/refresh', status: 200, body: { status: 'success' } });
    const { ctx } = clientFor(sim);
    const done = await refresh.start!(ctx, refresh.args.parse({ deploymentId: ID }));
    expect(done).toMatchObject({ outcome: 'succeeded', status: 'success' });
    expect(done.vendorJobId).toBeUndefined();
  });

  it('throws a permanent error naming the code for an unknown deployment (HTTP 200 error body)', async () => {
    const { ctx } = clientFor(sim);
    const error = await rejection(
      refresh.start!(ctx, refresh.args.parse({ deploymentId: 'zzzzzzzzzzzzzzzzzzzzz' })),
    );
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      "ArcGIS refused to refresh deployment zzzzzzzzzzzzzzzzzzzzz: error 404, Deployment 'zzzzzzzzzzzzzzzzzzzzz' does not exist.",
    );
    expect(error).toMatchObject({ vendorCode: '404', retryable: false, delivery: 'answered' });
  });

  it('rejects a job id from the vendor that is not a plain id', async () => {
    sim.inject({
      method: 'POST',
      path: '/refresh',
      status: 200,
      body: { jobID: '../../x', jobStatus: 'SUBMITTED' },
    });
    const { ctx } = clientFor(sim);
    const error = await rejection(refresh.start!(ctx, refresh.args.parse({ deploymentId: ID })));
    expect(error.message).toContain('job id that is not a plain id');
  });

  it('refuses a stored memo it cannot read', async () => {
    const { ctx } = clientFor(sim);
    const args = refresh.args.parse({ deploymentId: ID });
    const error = await rejection(
      refresh.poll!(ctx, args, { outcome: 'running', status: 'SUBMITTED', memo: { nope: 1 } }),
    );
    expect(error.message).toContain('cannot be followed');
  });
});

describe('refresh-deployment: dry run and approval text', () => {
  it('shows the exact call with the token masked and the current state', async () => {
    const { deploymentId } = sim.addDeployment({ name: 'hosted-tiles', replicas: 3 });
    const { ctx } = clientFor(sim);
    const report = await refresh.dryRun!(ctx, refresh.args.parse({ deploymentId }));
    expect(report.call).toBe(
      `POST ${sim.url}/admin/system/deployments/${deploymentId}/refresh (async=true, f=json, token=••••)`,
    );
    expect(report.currentState).toEqual([
      `deployment hosted-tiles (${deploymentId}): STARTED, 3/3 pods ready`,
    ]);
    expect(sim.counters.refreshCalls[deploymentId]).toBeUndefined();
  });

  it('shows the pods restarting while a refresh runs', async () => {
    const { deploymentId } = sim.addDeployment({ name: 'busy', replicas: 2 });
    const { ctx } = clientFor(sim);
    const args = refresh.args.parse({ deploymentId });
    await refresh.start!(ctx, args);
    const report = await refresh.dryRun!(ctx, args);
    expect(report.currentState).toEqual([`deployment busy (${deploymentId}): STARTED, 0/2 pods ready`]);
  });

  it('suggests the closest deployment ids when the id is unknown', async () => {
    const { ctx } = clientFor(sim);
    const typo = 'kvyxph9w5h3o9vgk8dixm';
    const report = await refresh.dryRun!(ctx, refresh.args.parse({ deploymentId: typo }));
    expect(report.currentState).toEqual([
      `could not read deployment ${typo}: ArcGIS refused to read the status of deployment ${typo}: error 404, Deployment '${typo}' does not exist.`,
      `did you mean ${ID} (shared-featureserver)?`,
    ]);
  });

  it('says so when no deployment is close', async () => {
    const { ctx } = clientFor(sim);
    const report = await refresh.dryRun!(ctx, refresh.args.parse({ deploymentId: 'aaaaaaaaaaaaaaaaaaaaa' }));
    expect(report.currentState[1]).toMatch(
      /^no deployment of the \d+ on this site has a similar id or name$/,
    );
  });

  it('describes the action with its warning', () => {
    const summary = refresh.describe(refresh.args.parse({ deploymentId: ID }));
    expect(summary.fields[0]).toEqual({ label: 'Deployment', value: ID });
    expect(summary.warnings[0]).toContain('every pod of this deployment restarts');
  });
});
