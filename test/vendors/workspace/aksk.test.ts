import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VendorError } from '../../../src/errors.js';
import type { WorkspaceClient } from '../../../src/vendors/workspace/index.js';
import { signRequest } from '../../../src/vendors/workspace/signer.js';
import {
  SIM_ACCESS_KEY,
  SIM_PROJECT_ID,
  SIM_SECRET_KEY,
  startWorkspaceSimulator,
  type WorkspaceSimulator,
} from '../../../src/vendors/workspace/simulator.js';
import { akskTarget, clientFor, SERVER_ID, thrown } from './helpers.js';

const MINUTE = 60_000;
const KEYS = { accessKey: SIM_ACCESS_KEY, secretKey: SIM_SECRET_KEY };

describe('AK/SK signing against the simulator', () => {
  let sim: WorkspaceSimulator;
  let client: WorkspaceClient | undefined;

  beforeEach(async () => {
    sim = await startWorkspaceSimulator();
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await sim.close();
  });

  /** Sends a request signed over `signed`, but with `sent` changes applied after signing. */
  async function sendTampered(
    signed: { path: string; body?: string; headers?: Record<string, string>; date?: number },
    sent: { path?: string; body?: string; headers?: Record<string, string> } = {},
  ) {
    // An empty value leaves the header out altogether.
    const headers = Object.fromEntries(
      Object.entries({
        'Content-Type': 'application/json',
        'X-Project-Id': SIM_PROJECT_ID,
        ...signed.headers,
      }).filter(([, value]) => value !== ''),
    );
    const body = signed.body ?? '';
    const auth = signRequest(
      { method: 'POST', url: new URL(signed.path, sim.url), headers, body },
      { ...KEYS, date: signed.date ?? Date.now() },
    );
    const response = await fetch(new URL(sent.path ?? signed.path, sim.url), {
      method: 'POST',
      headers: { ...headers, ...auth, ...sent.headers },
      body: sent.body ?? body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  }

  const reinstallPath = `/v1/${SIM_PROJECT_ID}/app-servers/${SERVER_ID}/actions/reinstall`;
  const agentOff = '{"update_access_agent":false}';

  it('signs every Workspace call (X-Project-Id and X-Sdk-Date signed) and never calls IAM', async () => {
    client = clientFor(akskTarget(sim));
    const server = await client.server(SERVER_ID);
    expect(server.name).toBe('APS-SALES-01');
    const { jobId } = await client.reinstall(SERVER_ID, true);
    expect(sim.jobs.get(jobId)?.updateAccessAgent).toBe(true);

    expect(sim.requests.some((r) => r.path.startsWith('/v3/'))).toBe(false);
    for (const request of sim.requests) {
      expect(request.headers.authorization).toMatch(
        new RegExp(
          `^SDK-HMAC-SHA256 Access=${SIM_ACCESS_KEY}, SignedHeaders=x-project-id;x-sdk-date, Signature=[0-9a-f]{64}$`,
        ),
      );
      expect(request.headers['x-project-id']).toBe(SIM_PROJECT_ID);
      expect(request.headers['x-sdk-date']).toMatch(/^\d{8}T\d{6}Z$/);
      expect(request.headers['x-auth-token']).toBeUndefined();
    }
  });

  it('accepts a correctly signed raw request (the tamper tests below start from this one)', async () => {
    expect((await sendTampered({ path: reinstallPath, body: agentOff })).status).toBe(200);
  });

  it('rejects a wrong secret key with one clear, permanent 401 and does not retry', async () => {
    client = clientFor(akskTarget(sim, 'not-the-secret-key'));
    const error = await thrown(() => client!.server(SERVER_ID));
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      `Huawei Workspace answered APIGW.0301 (HTTP 401) to the lookup of server ${SERVER_ID}: Incorrect IAM authentication information: verify aksk signature fail`,
    );
    expect(error.message).not.toContain('not-the-secret-key');
    expect(error.retryable).toBe(false);
    expect(sim.requests).toHaveLength(1);
  });

  it('rejects a stale X-Sdk-Date (more than 15 min away) and accepts one 14 min old', async () => {
    client = clientFor(akskTarget(sim), { now: () => Date.now() - 20 * MINUTE });
    const error = await thrown(() => client!.server(SERVER_ID));
    expect(error.httpStatus).toBe(401);
    expect(error.message).toContain('X-Sdk-Date is too far from the current time');
    const fresh = await sendTampered({ path: reinstallPath, body: agentOff, date: Date.now() - 14 * MINUTE });
    expect(fresh.status).toBe(200);
  });

  it('signs again at send time, so a later call carries a later X-Sdk-Date', async () => {
    let now = Date.now();
    const simClock = await startWorkspaceSimulator({ now: () => now });
    const timed = clientFor(akskTarget(simClock), { now: () => now });
    try {
      await timed.server(SERVER_ID);
      now += 20 * MINUTE;
      await timed.server(SERVER_ID);
      const [first, second] = simClock.requests.map((r) => r.headers['x-sdk-date']);
      expect(first).not.toBe(second);
    } finally {
      await timed.close();
      await simClock.close();
    }
  });

  it('rejects a body changed after signing', async () => {
    const answer = await sendTampered(
      { path: reinstallPath, body: agentOff },
      { body: '{"update_access_agent":true}' },
    );
    expect(answer.status).toBe(401);
    expect(answer.body.error_msg).toContain('verify aksk signature fail');
    expect(sim.jobs.size).toBe(0);
  });

  it('rejects a path, a query or a signed header changed after signing', async () => {
    const otherServer = `/v1/${SIM_PROJECT_ID}/app-servers/7c9e6679-7425-40de-944b-e07fc1f90ae7/actions/reinstall`;
    expect((await sendTampered({ path: reinstallPath, body: agentOff }, { path: otherServer })).status).toBe(
      401,
    );
    expect(
      (await sendTampered({ path: reinstallPath, body: agentOff }, { path: `${reinstallPath}?x=1` })).status,
    ).toBe(401);
    const signedDate = await sendTampered(
      { path: reinstallPath, body: agentOff },
      { headers: { 'X-Sdk-Date': '20990101T000000Z' } },
    );
    expect(signedDate.status).toBe(401);
    expect(sim.jobs.size).toBe(0);
  });

  it('does not let unsigned headers (content-type) break the signature', async () => {
    const answer = await sendTampered(
      { path: reinstallPath, body: agentOff },
      { headers: { 'Content-Type': 'application/json;charset=UTF-8' } },
    );
    expect(answer.status).toBe(200);
  });

  it('wants X-Project-Id (401 without, 403 for another project) and refuses unsigned calls', async () => {
    const missing = await sendTampered({
      path: reinstallPath,
      body: agentOff,
      headers: { 'X-Project-Id': '' },
    });
    expect(missing.status).toBe(401);
    expect(missing.body.error_msg).toContain('X-Project-Id is required');
    const otherProject = 'ffffffffffffffffffffffffffffffff';
    const foreign = await sendTampered({
      path: `/v1/${otherProject}/app-servers/${SERVER_ID}/actions/reinstall`,
      body: agentOff,
      headers: { 'X-Project-Id': otherProject },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error_code).toBe('WKS.00081102');
    const anonymous = await fetch(new URL(reinstallPath, sim.url), { method: 'POST', body: agentOff });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as Record<string, string>).error_code).toBe('APIGW.0301');
  });
});
