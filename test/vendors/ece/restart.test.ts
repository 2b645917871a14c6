import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restartResource } from '../../../src/vendors/ece/restart.js';
import type { EceSimulator } from '../../../src/vendors/ece/simulator.js';
import { args, contextFor, type manualClock, STEP_MS, simWithClock, threadLines, walk } from './support.js';

let sim: EceSimulator;
let clock: ReturnType<typeof manualClock>;

beforeEach(async () => {
  ({ sim, clock } = await simWithClock());
});
afterEach(async () => {
  await sim.close();
});

describe('ece restart, start → poll → end', () => {
  it('follows a Kibana restart step by step to success (ApiKey)', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana', refId: 'main-kibana' }] });
    const ctx = contextFor(sim);
    const { updates, last } = await walk(ctx, args({ deploymentId: id, kind: 'kibana' }), clock);

    expect(threadLines(updates)).toEqual([
      'accepted · waiting for ECE to show the restart plan',
      'rebooting · step `plan-started` in progress',
      'rebooting · step `validate-plan` in progress',
      'rebooting · step `rolling-restart` in progress',
      'rebooting · step `wait-until-healthy` in progress',
      'started · step `plan-completed` finished',
    ]);
    const attempt = sim.inspect(id, 'kibana').current!;
    expect(last).toMatchObject({
      outcome: 'succeeded',
      vendorJobId: attempt.id,
      result: [
        'kibana/main-kibana restarted: plan attempt-0000000001 completed in 4 s; resource started, healthy',
      ],
    });
    // `_main` was resolved before the POST, and the POST had neither a body nor cancel_pending.
    const post = sim.requests.find((req) => req.method === 'POST')!;
    expect(post.path).toBe(`/api/v1/deployments/${id}/kibana/main-kibana/_restart`);
    expect([...post.query]).toEqual([]);
    expect(post.body).toBe('');
    expect(post.headers.authorization).toBe(`ApiKey ${sim.credentials.apiKey}`);
    // Steps exist only with show_plan_logs=true; every poll asks for them.
    const polls = sim.requests.filter((req) => req.method === 'GET').slice(1);
    expect(polls.every((req) => req.query.get('show_plan_logs') === 'true')).toBe(true);
  });

  it('works with basic auth for a built-in user', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'apm', refId: 'main-apm' }] });
    const ctx = contextFor(sim, { username: sim.credentials.username, password: sim.credentials.password });
    const { last } = await walk(ctx, args({ deploymentId: id, kind: 'apm', refId: 'main-apm' }), clock);
    expect(last.outcome).toBe('succeeded');
    const basic = Buffer.from(`${sim.credentials.username}:${sim.credentials.password}`).toString('base64');
    expect(sim.requests.every((req) => req.headers.authorization === `Basic ${basic}`)).toBe(true);
  });

  it.each(['kibana', 'apm', 'appsearch', 'enterprise_search', 'integrations_server'] as const)(
    'restarts the %s resource found by _main',
    async (kind) => {
      const { id } = sim.addDeployment({ resources: [{ kind }] });
      const { last } = await walk(contextFor(sim), args({ deploymentId: id, kind }), clock);
      expect(last.outcome).toBe('succeeded');
      expect(last.result?.[0]).toMatch(new RegExp(`^${kind}/main-${kind} restarted`));
    },
  );

  it('reports a failed plan with the message of its error step and the failure type', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }], planOutcome: 'failure' });
    const { updates, last } = await walk(contextFor(sim), args({ deploymentId: id, kind: 'kibana' }), clock);
    expect(threadLines(updates).at(-1)).toBe('started · step `plan-completed` failed');
    expect(last.outcome).toBe('failed');
    expect(last.result).toEqual([
      'plan attempt-0000000001 on kibana/main-kibana failed at step `rolling-restart`: Unexpected error during step: [rolling-restart]: [no.found.constructor.steps.TimeoutException: Timeout waiting for instance [instance-0000000001] to start during [rolling-restart]] (failure type ClusterFailure:RestartTimeout)',
    ]);
    // The failed attempt is only in the history: the last good plan stays current.
    expect(sim.requests.some((req) => req.query.get('show_plan_history') === 'true')).toBe(true);
    expect(sim.inspect(id, 'kibana').current?.name).toBe('attempt-0000000000');
  });

  it('uses the simulator scenario "failure" for every deployment', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    sim.setScenario('failure');
    const { last } = await walk(contextFor(sim), args({ deploymentId: id, kind: 'kibana' }), clock);
    expect(last.outcome).toBe('failed');
  });

  it('waits while the plan is not visible yet, then follows it', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }], hiddenReads: 2 });
    const { updates, last } = await walk(contextFor(sim), args({ deploymentId: id, kind: 'kibana' }), clock);
    expect(updates.slice(1, 3).map((u) => [u.status, u.detail, u.memo])).toEqual([
      ['accepted', 'waiting for ECE to show the restart plan', expect.objectContaining({ quietPolls: 1 })],
      ['accepted', 'waiting for ECE to show the restart plan', expect.objectContaining({ quietPolls: 2 })],
    ]);
    expect(updates[3]?.detail).toBe('step `plan-started` in progress');
    expect(last.outcome).toBe('succeeded');
  });

  it('finds a plan that ran entirely between two polls', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }], hiddenReads: 0 });
    const ctx = contextFor(sim);
    const input = args({ deploymentId: id, kind: 'kibana' });
    const started = await restartResource.start!(ctx, input);
    clock.advance(60_000);
    const done = await restartResource.poll!(ctx, input, started);
    expect(done).toMatchObject({ outcome: 'succeeded', status: 'started' });
  });

  it('finds a failed plan that ran entirely between two polls in the history', async () => {
    const { id } = sim.addDeployment({
      resources: [{ kind: 'kibana' }],
      hiddenReads: 0,
      planOutcome: 'failure',
    });
    const ctx = contextFor(sim);
    const input = args({ deploymentId: id, kind: 'kibana' });
    const started = await restartResource.start!(ctx, input);
    clock.advance(60_000);
    const done = await restartResource.poll!(ctx, input, started);
    expect(done.outcome).toBe('failed');
    expect(done.vendorJobId).toBe(sim.inspect(id, 'kibana').history.at(-1)?.id);
  });

  it('finds our finished attempt in the history when someone else’s plan has become current since', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }], hiddenReads: 0 });
    const ctx = contextFor(sim);
    const input = args({ deploymentId: id, kind: 'kibana' });
    const started = await restartResource.start!(ctx, input);
    const seen = await restartResource.poll!(ctx, input, started);
    clock.advance(10 * STEP_MS);
    const foreign = sim.startPlan(id, 'kibana');
    clock.advance(10 * STEP_MS);
    expect(sim.inspect(id, 'kibana').current?.id).toBe(foreign);
    const done = await restartResource.poll!(ctx, input, seen);
    expect(done).toMatchObject({ outcome: 'succeeded', vendorJobId: seen.vendorJobId });
  });

  it('gives up after a few polls that show neither a pending plan nor a new attempt', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }], hiddenReads: 1_000 });
    const ctx = contextFor(sim);
    const input = args({ deploymentId: id, kind: 'kibana' });
    let last = await restartResource.start!(ctx, input);
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      last = await restartResource.poll!(ctx, input, last);
      outcomes.push(last.outcome);
    }
    expect(outcomes).toEqual(['running', 'running', 'running', 'running', 'failed']);
    expect(last.result).toEqual([
      "ECE accepted the restart of kibana/main-kibana but showed no new plan attempt after 4 polls; check the deployment's activity in the ECE console",
    ]);
  });

  it('starts a stopped resource with its last plan', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'enterprise_search', stopped: true }] });
    const { updates, last } = await walk(
      contextFor(sim),
      args({ deploymentId: id, kind: 'enterprise_search' }),
      clock,
    );
    expect(threadLines(updates)).toContain('initializing · step `start-instances` in progress');
    expect(last).toMatchObject({ outcome: 'succeeded', status: 'started' });
  });

  it('shows warnings of the 202 once, as notes', async () => {
    const warning = {
      code: 'deployments.restart_warning',
      message: 'Kibana has a single instance: it is unavailable during the restart',
    };
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }], restartWarnings: [warning] });
    const started = await restartResource.start!(contextFor(sim), args({ deploymentId: id, kind: 'kibana' }));
    expect(started.notes).toEqual([
      'ECE warning deployments.restart_warning: Kibana has a single instance: it is unavailable during the restart',
    ]);
  });
});

describe('ece restart while another plan is in progress', () => {
  it('is refused with a sentence that names the code and suggests --cancel-pending', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana', refId: 'main-kibana' }] });
    sim.startPlan(id, 'kibana');
    const start = restartResource.start!(contextFor(sim), args({ deploymentId: id, kind: 'kibana' }));
    await expect(start).rejects.toMatchObject({
      message:
        'ECE refused the restart: a plan is already running on kibana/main-kibana (deployments.deployment_resource_plan_change_error, HTTP 422). Use --cancel-pending to cancel it.',
      vendorCode: 'deployments.deployment_resource_plan_change_error',
      httpStatus: 422,
      retryable: false,
      delivery: 'answered',
    });
  });

  it('with --cancel-pending cancels that plan, then follows the restart (not the cancelled plan)', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    const foreign = sim.startPlan(id, 'kibana');
    const { last } = await walk(
      contextFor(sim),
      args({ deploymentId: id, kind: 'kibana', cancelPending: true }),
      clock,
    );
    const post = sim.requests.find((req) => req.method === 'POST')!;
    expect(post.query.get('cancel_pending')).toBe('true');
    expect(sim.inspect(id, 'kibana').history.map((attempt) => [attempt.id === foreign, attempt.end])).toEqual(
      [
        [false, 'success'],
        [true, 'cancelled'],
        [false, 'success'],
      ],
    );
    expect(last).toMatchObject({ outcome: 'succeeded', vendorJobId: sim.inspect(id, 'kibana').current?.id });
  });
});

describe('ece restart errors', () => {
  const ID = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';

  it('names an unknown deployment (404) and sends nothing that mutates', async () => {
    await expect(
      restartResource.start!(contextFor(sim), args({ deploymentId: ID, kind: 'kibana' })),
    ).rejects.toMatchObject({
      message: `ECE has no deployment ${ID} on target "lab" (deployments.deployment_not_found, HTTP 404)`,
      vendorCode: 'deployments.deployment_not_found',
      retryable: false,
      delivery: 'not-sent',
    });
    expect(sim.requests.filter((req) => req.method === 'POST')).toEqual([]);
  });

  it('names an unknown resource (404)', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    await expect(
      restartResource.start!(contextFor(sim), args({ deploymentId: id, kind: 'kibana', refId: 'other' })),
    ).rejects.toMatchObject({
      message: `ECE found no kibana resource "other" in deployment ${id}: The Resource specified by [other] cannot be found (deployments.deployment_resource_not_found, HTTP 404)`,
      vendorCode: 'deployments.deployment_resource_not_found',
    });
  });

  it('says _main is ambiguous when a deployment has several resources of the kind', async () => {
    const { id } = sim.addDeployment({
      resources: [
        { kind: 'apm', refId: 'apm-a' },
        { kind: 'apm', refId: 'apm-b' },
      ],
    });
    await expect(
      restartResource.start!(contextFor(sim), args({ deploymentId: id, kind: 'apm' })),
    ).rejects.toMatchObject({
      message: `ECE found no apm resource "_main" in deployment ${id}: The deployment has 2 [apm] resources (apm-a, apm-b); '_main' is ambiguous, use a RefId (deployments.deployment_resource_not_found, HTTP 404)`,
    });
  });

  it('says elevated permissions are needed (449)', async () => {
    const { id } = sim.addDeployment({
      resources: [{ kind: 'kibana' }],
      refuseRestart: 'elevated-permissions',
    });
    await expect(
      restartResource.start!(contextFor(sim), args({ deploymentId: id, kind: 'kibana' })),
    ).rejects.toMatchObject({
      message:
        'ECE needs elevated permissions to restart kibana/main-kibana, which the credentials of target "lab" do not have (root.unauthorized.rbac.elevated_permissions_required, HTTP 449)',
      httpStatus: 449,
      retryable: false,
    });
  });

  it('says the resource no longer exists (500)', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }], refuseRestart: 'no-longer-exists' });
    await expect(
      restartResource.start!(contextFor(sim), args({ deploymentId: id, kind: 'kibana' })),
    ).rejects.toMatchObject({
      message: `ECE says kibana/main-kibana of deployment ${id} no longer exists (deployments.deployment_resource_no_longer_exists, HTTP 500)`,
      retryable: false,
      delivery: 'answered',
    });
  });

  it.each([
    ['a wrong API key', { apiKey: 'not-the-key' }],
    ['a wrong password', { username: 'admin', password: 'wrong-password' }],
    ['an unknown user', { username: 'nobody', password: 'sim-ece-password' }],
  ])('rejects %s once (401), without retrying', async (_name, credentials) => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    await expect(
      restartResource.start!(contextFor(sim, credentials), args({ deploymentId: id, kind: 'kibana' })),
    ).rejects.toMatchObject({
      message:
        'ECE rejected the credentials for target "lab" (root.unauthenticated, HTTP 401); check its apiKey or username/password',
      httpStatus: 401,
      retryable: false,
    });
    expect(sim.requests).toHaveLength(1);
  });

  it('takes the code from x-cloud-error-codes when a proxy replaced the body', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    sim.inject({
      method: 'POST',
      path: '/_restart',
      status: 422,
      headers: {
        'x-cloud-error-codes': 'deployments.deployment_resource_plan_change_error',
        'content-type': 'text/html',
      },
      body: '<html>error</html>',
    });
    await expect(
      restartResource.start!(contextFor(sim), args({ deploymentId: id, kind: 'kibana' })),
    ).rejects.toMatchObject({
      vendorCode: 'deployments.deployment_resource_plan_change_error',
      message: expect.stringContaining('(deployments.deployment_resource_plan_change_error, HTTP 422)'),
    });
  });

  it('marks 503 and 502 as retryable, and a failed read before the POST as not sent', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    sim.setScenario('5xx-storm');
    const ctx = contextFor(sim);
    const input = args({ deploymentId: id, kind: 'kibana' });
    await expect(restartResource.start!(ctx, input)).rejects.toMatchObject({
      message:
        'ECE is unavailable or busy: The service is temporarily unavailable (root.service_unavailable, HTTP 503); opsbot will try again',
      retryable: true,
      retryAfterMs: 1_000,
      delivery: 'not-sent',
    });
    // The 502 of the read before the POST: a proxy page, never echoed, still safe to send again.
    await expect(restartResource.start!(ctx, input)).rejects.toMatchObject({
      message: 'ECE is unavailable or busy (HTTP 502); opsbot will try again',
      retryable: true,
      delivery: 'not-sent',
    });
    sim.setScenario('success');
    const started = await restartResource.start!(ctx, input);
    expect(started.outcome).toBe('running');
  });

  it('marks a 502 on the POST itself as uncertain delivery', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    sim.inject({ method: 'POST', path: '/_restart', status: 502, body: 'Bad Gateway' });
    await expect(
      restartResource.start!(contextFor(sim), args({ deploymentId: id, kind: 'kibana' })),
    ).rejects.toMatchObject({
      retryable: true,
      delivery: 'uncertain',
    });
  });

  it('keeps polling through a transient error: the poll error is retryable', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    const ctx = contextFor(sim);
    const input = args({ deploymentId: id, kind: 'kibana' });
    const started = await restartResource.start!(ctx, input);
    sim.inject({
      method: 'GET',
      status: 503,
      body: { errors: [{ code: 'root.service_unavailable', message: 'busy' }] },
    });
    await expect(restartResource.poll!(ctx, input, started)).rejects.toMatchObject({ retryable: true });
    expect((await restartResource.poll!(ctx, input, started)).outcome).toBe('running');
  });

  it('retries a read that hit an internal error, but not a restart that did', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    const ctx = contextFor(sim);
    const input = args({ deploymentId: id, kind: 'kibana' });
    const started = await restartResource.start!(ctx, input);
    sim.inject({
      method: 'GET',
      status: 500,
      body: { errors: [{ code: 'root.unexpected', message: 'We have failed you' }] },
    });
    await expect(restartResource.poll!(ctx, input, started)).rejects.toMatchObject({
      message:
        'ECE failed to read kibana/main-kibana: We have failed you (root.unexpected, HTTP 500); opsbot will try again',
      retryable: true,
    });
    sim.inject({
      method: 'POST',
      status: 500,
      body: { errors: [{ code: 'root.unexpected', message: 'We have failed you' }] },
    });
    await expect(
      restartResource.start!(ctx, args({ deploymentId: id, kind: 'kibana', cancelPending: true })),
    ).rejects.toMatchObject({
      message: 'ECE refused to restart kibana/main-kibana: We have failed you (root.unexpected, HTTP 500)',
      retryable: false,
      delivery: 'answered',
    });
  });

  it('never puts a credential in an error message', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    const password = 'wrong-but-secret-password';
    const failure = await restartResource.start!(
      contextFor(sim, { username: 'admin', password }),
      args({ deploymentId: id, kind: 'kibana' }),
    ).catch((error: Error) => error);
    const basic = Buffer.from(`admin:${password}`).toString('base64');
    expect(JSON.stringify({ message: (failure as Error).message, ...(failure as object) })).not.toMatch(
      new RegExp(`${password}|${basic}`),
    );
  });

  it('refuses an unreadable memo with a clear message', async () => {
    const { id } = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
    const input = args({ deploymentId: id, kind: 'kibana' });
    await expect(
      restartResource.poll!(contextFor(sim), input, {
        outcome: 'running',
        status: 'accepted',
        memo: { nope: 1 },
      }),
    ).rejects.toMatchObject({
      message: 'opsbot lost the state of this ECE restart (its stored memo is unreadable)',
    });
  });
});
