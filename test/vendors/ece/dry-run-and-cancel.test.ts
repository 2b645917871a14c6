import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restartResource } from '../../../src/vendors/ece/restart.js';
import type { EceSimulator } from '../../../src/vendors/ece/simulator.js';
import { args, contextFor, type manualClock, STEP_MS, simWithClock } from './support.js';

let sim: EceSimulator;
let clock: ReturnType<typeof manualClock>;

beforeEach(async () => {
  ({ sim, clock } = await simWithClock());
});
afterEach(async () => {
  await sim.close();
});

describe('ece restart --dry-run', () => {
  it('shows the exact call with _main resolved, credentials masked, and the resource as it stands', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana', refId: 'main-kibana' }] });
    const report = await restartResource.dryRun!(contextFor(sim), args({ deploymentId: id, kind: 'kibana' }));
    expect(report.call).toBe(
      `POST ${sim.url}/api/v1/deployments/${id}/kibana/main-kibana/_restart (no body; Authorization: ApiKey ••••)`,
    );
    expect(report.currentState).toEqual([
      'kibana/main-kibana (resolved from _main): status started, healthy',
      'no plan is in progress',
      ['last plan: attempt-0000000000 ended ', { at: Date.parse('2025-03-01T09:59:40.000Z') }],
    ]);
    expect(JSON.stringify(report)).not.toContain(sim.credentials.apiKey);
    expect(sim.requests.map((req) => req.method)).toEqual(['GET']);
  });

  it('shows a plan in progress with its current step, and what --cancel-pending would do', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'apm', refId: 'main-apm' }] });
    sim.startPlan(id, 'apm');
    clock.advance(STEP_MS);
    const ctx = contextFor(sim, { username: sim.credentials.username, password: sim.credentials.password });
    const report = await restartResource.dryRun!(
      ctx,
      args({ deploymentId: id, kind: 'apm', refId: 'main-apm', cancelPending: true }),
    );
    expect(report.call).toBe(
      `POST ${sim.url}/api/v1/deployments/${id}/apm/main-apm/_restart?cancel_pending=true (no body; Authorization: Basic ••••)`,
    );
    expect(report.currentState).toEqual([
      'apm/main-apm: status rebooting, healthy',
      'a plan is in progress: attempt-0000000001, step `validate-plan` in progress; --cancel-pending would cancel it',
      ['last plan: attempt-0000000000 ended ', { at: Date.parse('2025-03-01T09:59:40.000Z') }],
    ]);
    expect(sim.inspect(id, 'apm').pending).toBeDefined();
  });

  it('warns that a restart without --cancel-pending would be refused, and shows a failed last plan', async () => {
    const { id } = sim.addDeployment({
      resources: [{ kind: 'kibana' }],
      planOutcome: 'failure',
      hiddenReads: 0,
    });
    const ctx = contextFor(sim);
    await restartResource.start!(ctx, args({ deploymentId: id, kind: 'kibana' }));
    clock.advance(10 * STEP_MS);
    sim.startPlan(id, 'kibana');
    const report = await restartResource.dryRun!(ctx, args({ deploymentId: id, kind: 'kibana' }));
    expect(report.currentState.slice(1)).toEqual([
      'a plan is in progress: attempt-0000000002, step `plan-started` in progress; the restart will be refused while it runs (add --cancel-pending to cancel it)',
      'the last plan attempt on this resource failed',
    ]);
  });

  it('names an unknown deployment', async () => {
    const missing = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
    await expect(
      restartResource.dryRun!(contextFor(sim), args({ deploymentId: missing, kind: 'kibana' })),
    ).rejects.toMatchObject({ vendorCode: 'deployments.deployment_not_found' });
  });
});

describe('ece restart cancel', () => {
  async function startedRestart(hiddenReads = 0) {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }], hiddenReads });
    const ctx = contextFor(sim);
    const input = args({ deploymentId: id, kind: 'kibana' });
    const started = await restartResource.start!(ctx, input);
    return { id, ctx, input, started };
  }

  it('cancels our plan in progress, and the next poll reports the cancelled plan', async () => {
    const { id, ctx, input, started } = await startedRestart();
    clock.advance(STEP_MS);
    const running = await restartResource.poll!(ctx, input, started);
    expect(running.detail).toBe('step `validate-plan` in progress');

    expect(await restartResource.cancel!(ctx, input, running)).toBe(
      'ECE is cancelling the restart plan attempt-0000000001 on kibana/main-kibana',
    );
    const cancel = sim.requests.find((req) => req.method === 'DELETE')!;
    expect(cancel.path).toBe(`/api/v1/deployments/${id}/kibana/main-kibana/plan/pending`);
    expect([...cancel.query]).toEqual([]);

    const after = await restartResource.poll!(ctx, input, running);
    expect(after).toMatchObject({ outcome: 'failed', vendorJobId: running.vendorJobId });
    expect(after.result?.[0]).toMatch(
      /failed: The plan was cancelled before it completed \(failure type PlanCancelled\)$/,
    );
  });

  it('cancels a restart whose plan is not shown yet', async () => {
    const { id, ctx, input, started } = await startedRestart(3);
    expect(await restartResource.cancel!(ctx, input, started)).toBe(
      'ECE is cancelling the restart plan on kibana/main-kibana',
    );
    expect(sim.inspect(id, 'kibana').history.at(-1)?.end).toBe('cancelled');
  });

  it('leaves someone else’s plan running', async () => {
    const { id, ctx, input, started } = await startedRestart();
    clock.advance(STEP_MS);
    const running = await restartResource.poll!(ctx, input, started);
    clock.advance(10 * STEP_MS);
    const done = await restartResource.poll!(ctx, input, running);
    expect(done.outcome).toBe('succeeded');
    sim.startPlan(id, 'kibana');
    expect(await restartResource.cancel!(ctx, input, done)).toBe(
      "the plan in progress on kibana/main-kibana (attempt-0000000002) is not opsbot's restart; it was left running",
    );
    expect(sim.requests.some((req) => req.method === 'DELETE')).toBe(false);
  });

  it('says so when the restart has already ended', async () => {
    const { ctx, input, started } = await startedRestart();
    clock.advance(STEP_MS);
    const running = await restartResource.poll!(ctx, input, started);
    clock.advance(10 * STEP_MS);
    expect(await restartResource.cancel!(ctx, input, running)).toBe(
      'ECE shows no plan in progress on kibana/main-kibana: the restart has already ended',
    );
  });

  it('turns ECE’s "no pending plan" answer into a plain reply', async () => {
    const { ctx, input, started } = await startedRestart(1);
    sim.inject({
      method: 'DELETE',
      status: 400,
      headers: { 'x-cloud-error-codes': 'deployments.resource_does_not_have_a_pending_plan' },
      body: { errors: [{ code: 'deployments.resource_does_not_have_a_pending_plan', message: 'none' }] },
    });
    expect(await restartResource.cancel!(ctx, input, started)).toBe(
      'ECE has no plan in progress on kibana/main-kibana: nothing was cancelled',
    );
  });
});
