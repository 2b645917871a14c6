import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { makeClientDeps } from '../../../src/vendors/client-deps.js';
import { eceVendor } from '../../../src/vendors/ece/index.js';
import { restartResource } from '../../../src/vendors/ece/restart.js';
import { resourceInfoSchema } from '../../../src/vendors/ece/schemas.js';
import { type EceSimulator, startEceSimulator } from '../../../src/vendors/ece/simulator.js';
import { args, contextFor, log, simWithClock, walk } from './support.js';

let sim: EceSimulator;
afterEach(async () => {
  await sim.close();
});

async function call(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  headers: Record<string, string> = {},
  body?: string,
) {
  const answer = await request(`${sim.url}/api/v1${path}`, { method, headers, ...(body ? { body } : {}) });
  return {
    status: answer.statusCode,
    headers: answer.headers,
    body: (await answer.body.json()) as Record<string, unknown>,
  };
}

describe('ECE simulator', () => {
  it('answers 401 with a BasicFailedReply and x-cloud-error-codes without valid credentials', async () => {
    ({ sim } = await simWithClock());
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    for (const authorization of [
      undefined,
      'ApiKey wrong',
      'Bearer x',
      'Basic !!!',
      `Basic ${Buffer.from('admin').toString('base64')}`,
    ]) {
      const answer = await call(
        'GET',
        `/deployments/${id}/kibana/_main`,
        authorization ? { authorization } : {},
      );
      expect(answer.status).toBe(401);
      expect(answer.headers['x-cloud-error-codes']).toBe('root.unauthenticated');
      expect(answer.body).toMatchObject({ errors: [{ code: 'root.unauthenticated' }] });
    }
  });

  it('validates the query and refuses a body on _restart, like a strict API', async () => {
    ({ sim } = await simWithClock());
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    const auth = { authorization: `ApiKey ${sim.credentials.apiKey}` };
    expect(
      (await call('POST', `/deployments/${id}/kibana/_main/_restart?cancel_pending=yes`, auth)).status,
    ).toBe(400);
    expect((await call('POST', `/deployments/${id}/kibana/_main/_restart?force=true`, auth)).status).toBe(
      400,
    );
    expect((await call('POST', `/deployments/${id}/kibana/_main/_restart`, auth, '{}')).status).toBe(400);
    expect((await call('POST', `/deployments/${id}/elasticsearch/_main/_restart`, auth)).status).toBe(404);
    expect((await call('POST', `/deployments/${id}/kibana/_main/_restart`, auth)).status).toBe(202);
    const again = await call('POST', `/deployments/${id}/kibana/_main/_restart`, auth);
    expect(again.status).toBe(422);
    expect(again.headers['x-cloud-error-codes']).toBe('deployments.deployment_resource_plan_change_error');
  });

  it('shows plans, steps and history only when asked', async () => {
    ({ sim } = await simWithClock({ hiddenReads: 0 }));
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    sim.startPlan(id, 'kibana');
    const auth = { authorization: `ApiKey ${sim.credentials.apiKey}` };
    const plain = resourceInfoSchema.parse((await call('GET', `/deployments/${id}/kibana/_main`, auth)).body);
    expect(plain.info.plan_info?.pending?.plan_attempt_log).toBeUndefined();
    expect(plain.info.plan_info?.history).toEqual([]);
    const none = resourceInfoSchema.parse(
      (await call('GET', `/deployments/${id}/kibana/_main?show_plans=false`, auth)).body,
    );
    expect(none.info.plan_info).toEqual({ healthy: true, history: [] });
    const full = resourceInfoSchema.parse(
      (await call('GET', `/deployments/${id}/kibana/_main?show_plan_logs=true&show_plan_history=true`, auth))
        .body,
    );
    expect(full.info.plan_info?.pending?.plan_attempt_log?.[0]).toMatchObject({
      step_id: 'plan-started',
      stage: 'in_progress',
    });
    expect(full.info.plan_info?.history).toHaveLength(1);
  });

  it('answers 400 when there is no pending plan to cancel', async () => {
    ({ sim } = await simWithClock());
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    const answer = await call('DELETE', `/deployments/${id}/kibana/_main/plan/pending`, {
      authorization: `ApiKey ${sim.credentials.apiKey}`,
    });
    expect(answer.status).toBe(400);
    expect(answer.headers['x-cloud-error-codes']).toBe('deployments.resource_does_not_have_a_pending_plan');
  });

  it('"token-expiry" changes nothing for ECE: its credentials never expire mid-flight', async () => {
    let clock: { advance(ms: number): void };
    ({ sim, clock } = await simWithClock());
    sim.setScenario('token-expiry');
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    const { last } = await walk(contextFor(sim), args({ deploymentId: id, kind: 'kibana' }), clock);
    expect(last.outcome).toBe('succeeded');
    expect(new Set(sim.requests.map((req) => req.headers.authorization)).size).toBe(1);
  });

  it('"slow" makes each step take ten times longer', async () => {
    let clock: { advance(ms: number): void };
    ({ sim, clock } = await simWithClock());
    sim.setScenario('slow');
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    const { updates, last } = await walk(
      contextFor(sim),
      args({ deploymentId: id, kind: 'kibana' }),
      clock,
      60,
    );
    expect(last.outcome).toBe('succeeded');
    expect(updates.length).toBeGreaterThan(40);
  });

  it('"5xx-storm" answers 503 and 502 in turn for a few calls, then recovers', async () => {
    ({ sim } = await simWithClock());
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    sim.setScenario('5xx-storm');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const answer = await request(`${sim.url}/api/v1/deployments/${id}/kibana/_main`, {
        headers: { authorization: `ApiKey ${sim.credentials.apiKey}` },
      });
      await answer.body.dump();
      statuses.push(answer.statusCode);
    }
    expect(statuses).toEqual([503, 502, 503, 502, 200]);
  });

  it('serves HTTPS with a self-signed certificate that a target trusts through its CA file', async () => {
    sim = await startEceSimulator({ tls: true, stepMs: 1 });
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    const caFile = join(mkdtempSync(join(tmpdir(), 'ece-ca-')), 'ca.pem');
    writeFileSync(caFile, sim.certificatePem!);
    const target = {
      name: 'tls',
      ...eceVendor.targetSchema.parse({
        url: sim.url,
        apiKey: new Secret(sim.credentials.apiKey, 'test'),
        tls: { caFile },
      }),
    };
    const deps = makeClientDeps({ vendor: 'ece', target, baseUrl: eceVendor.baseUrl(target), log });
    const ctx = { client: eceVendor.createClient(target, deps), target: 'tls', log };
    const report = await restartResource.dryRun!(ctx, args({ deploymentId: id, kind: 'kibana' }));
    expect(report.currentState[0]).toBe('kibana/main-kibana (resolved from _main): status started, healthy');
  });
});
