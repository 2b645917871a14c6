import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VendorError } from '../../../src/errors.js';
import { reinstallServer } from '../../../src/vendors/workspace/actions.js';
import type { WorkspaceClient } from '../../../src/vendors/workspace/index.js';
import { signRequest } from '../../../src/vendors/workspace/signer.js';
import {
  errorBody,
  SIM_ACCESS_KEY,
  SIM_PROJECT_ID,
  SIM_SECRET_KEY,
  startWorkspaceSimulator,
  type WorkspaceSimulator,
} from '../../../src/vendors/workspace/simulator.js';
import { akskTarget, clientFor, ctx, SERVER_ID, secret, target, thrown, tokenTarget } from './helpers.js';

const REINSTALL = 'the reinstall of server 25b1dd14-0c84-4558-aa57-03a6c54b8e75';

describe('Workspace error answers', () => {
  let sim: WorkspaceSimulator;
  let client: WorkspaceClient;

  beforeEach(async () => {
    sim = await startWorkspaceSimulator();
    // AK/SK, so a scripted 401 is not answered by a token renewal.
    client = clientFor(akskTarget(sim));
  });
  afterEach(async () => {
    await client.close();
    await sim.close();
  });

  const start = () => reinstallServer.start!(ctx(client), { serverId: SERVER_ID, updateAgent: false });

  const documented: Array<[number, string, string, boolean, string]> = [
    [400, 'WKS.00129901', 'The request message is invalid.', false, 'answered'],
    [401, 'APIGW.0301', 'Incorrect IAM authentication information.', false, 'answered'],
    [403, 'WKS.00081102', 'User does not have permission to access this resource.', false, 'answered'],
    [404, 'WKS.00211104', 'The resource does not exist.', false, 'answered'],
    [405, 'WKS.00211105', 'The request method is not allowed.', false, 'answered'],
    [500, 'WKS.00211401', 'The requested operation failed. Please try again later.', false, 'answered'],
    [
      503,
      'WKS.00211503',
      'The service is temporarily unavailable. Please try again later.',
      true,
      'not-sent',
    ],
  ];

  for (const [status, code, text, retryable, delivery] of documented) {
    it(`turns a documented ${status} into one sentence with ${code}, the status and the request id`, async () => {
      sim.inject({
        path: '/actions/reinstall',
        status,
        body: errorBody(status),
        headers: { 'X-Request-Id': `req-${status}` },
      });
      const error = await thrown(start);
      expect(error).toBeInstanceOf(VendorError);
      expect(error.message).toBe(
        `Huawei Workspace answered ${code} (HTTP ${status}) to ${REINSTALL}: ${text}`,
      );
      expect(error.vendorCode).toBe(code);
      expect(error.code).toBe(`vendor.workspace.${code}`);
      expect(error.httpStatus).toBe(status);
      expect(error.requestId).toBe(`req-${status}`);
      expect(error.retryable).toBe(retryable);
      expect(error.delivery).toBe(delivery);
    });
  }

  it('tolerates the {"code","message"} form', async () => {
    sim.injectError(404, { path: '/actions/reinstall', shape: 'code' });
    const error = await thrown(start);
    expect(error.message).toBe(
      `Huawei Workspace answered WKS.00211104 (HTTP 404) to ${REINSTALL}: The resource does not exist.`,
    );
  });

  it('treats a 500 on a read as worth another try, but not on the reinstall', async () => {
    sim.injectError(500, { path: '/app-servers/' });
    const error = await thrown(() => client.server(SERVER_ID));
    expect(error.retryable).toBe(true);
  });

  it('says what came back instead of an error body, never the page itself', async () => {
    sim.inject({ path: '/actions/reinstall', status: 502, body: '<html><body>Bad Gateway</body></html>' });
    const error = await thrown(start);
    expect(error.message).toBe(
      `Huawei Workspace answered HTTP 502 to ${REINSTALL} with text/plain instead of an error body (a proxy page?)`,
    );
    expect(error.message).not.toContain('<html>');
    expect(error.retryable).toBe(true);
    expect(error.delivery).toBe('uncertain');
  });

  it('makes a 409 (server busy) retryable after 30 s, or after Retry-After when given', async () => {
    sim.injectError(409, { path: '/actions/reinstall' });
    const busy = await thrown(start);
    expect(busy.message).toBe(
      `Huawei Workspace answered WKS.00211103 (HTTP 409) to ${REINSTALL}: The request could not be completed due to a conflict of the resource. (the server is busy with another task)`,
    );
    expect(busy.retryable).toBe(true);
    expect(busy.retryAfterMs).toBe(30_000);
    expect(busy.delivery).toBe('not-sent');
    sim.inject({
      path: '/actions/reinstall',
      status: 409,
      body: errorBody(409),
      headers: { 'Retry-After': '5' },
    });
    expect((await thrown(start)).retryAfterMs).toBe(5_000);
  });

  it("waits the target's busyWait after a 409 without Retry-After, and Retry-After when given", async () => {
    const patient = clientFor(
      target({
        region: 'ap-southeast-1',
        url: sim.url,
        projectId: sim.projectId,
        auth: { type: 'aksk', accessKey: secret(SIM_ACCESS_KEY), secretKey: secret(SIM_SECRET_KEY) },
        busyWait: '2m',
      }),
    );
    const startPatient = () =>
      reinstallServer.start!(ctx(patient), { serverId: SERVER_ID, updateAgent: false });
    try {
      sim.injectError(409, { path: '/actions/reinstall' });
      expect((await thrown(startPatient)).retryAfterMs).toBe(120_000);
      sim.inject({
        path: '/actions/reinstall',
        status: 409,
        body: errorBody(409),
        headers: { 'Retry-After': '5' },
      });
      expect((await thrown(startPatient)).retryAfterMs).toBe(5_000);
    } finally {
      await patient.close();
    }
  });

  it('refuses an answer of the wrong shape with a clear, permanent error', async () => {
    sim.inject({ path: '/actions/reinstall', status: 200, body: { jobId: 'x' } });
    const error = await thrown(start);
    expect(error.message).toBe(
      `Huawei answered ${REINSTALL} with HTTP 200 in an unexpected shape (job_id: Invalid input: expected string, received undefined)`,
    );
    expect(error.retryable).toBe(false);
  });

  it('refuses a job id that could not be one URL segment', async () => {
    sim.inject({ path: '/actions/reinstall', status: 200, body: { job_id: '../../x' } });
    expect((await thrown(start)).message).toContain('job_id: a job id of letters, digits');
  });

  describe('the simulator answers the documented errors itself', () => {
    async function signedFetch(method: string, path: string, body = '', contentType = 'application/json') {
      const headers = { 'Content-Type': contentType, 'X-Project-Id': SIM_PROJECT_ID };
      const url = new URL(path, sim.url);
      const auth = signRequest(
        { method, url, headers, body },
        { accessKey: SIM_ACCESS_KEY, secretKey: SIM_SECRET_KEY, date: Date.now() },
      );
      const response = await fetch(url, {
        method,
        headers: { ...headers, ...auth },
        body: body || undefined,
      });
      return {
        status: response.status,
        requestId: response.headers.get('x-request-id'),
        body: (await response.json()) as Record<string, string>,
      };
    }
    const path = `/v1/${SIM_PROJECT_ID}/app-servers/${SERVER_ID}/actions/reinstall`;

    it('400 for a body that is not the documented shape', async () => {
      for (const body of ['{"update_access_agent":"yes"}', 'not json', '[]']) {
        const answer = await signedFetch('POST', path, body);
        expect(answer.status, body).toBe(400);
        expect(answer.body.error_code).toBe('WKS.00129901');
        expect(answer.requestId).toMatch(/^[0-9a-f]{32}$/);
      }
      expect((await signedFetch('POST', path, '{}', 'text/plain')).status).toBe(400);
    });

    it('404 for an unknown server or job, 405 for a wrong method', async () => {
      const unknown = await signedFetch(
        'POST',
        path.replace(SERVER_ID, '00000000-0000-4000-8000-000000000000'),
        '{}',
      );
      expect(unknown.status).toBe(404);
      expect(unknown.body.error_code).toBe('WKS.00211104');
      expect((await signedFetch('GET', `/v2/${SIM_PROJECT_ID}/job/nope`)).status).toBe(404);
      const wrongMethod = await signedFetch('GET', path);
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.body.error_code).toBe('WKS.00211105');
      expect((await signedFetch('DELETE', `/v2/${SIM_PROJECT_ID}/job/x`)).status).toBe(405);
    });

    it('403 for a token scoped to another project than the URL', async () => {
      const tokenClient = clientFor(tokenTarget(sim));
      try {
        await tokenClient.server(SERVER_ID);
        const token = sim.requests.find((r) => r.headers['x-auth-token'])!.headers['x-auth-token']!;
        const response = await fetch(
          new URL(`/v1/ffffffffffffffffffffffffffffffff/app-servers/${SERVER_ID}`, sim.url),
          {
            headers: { 'X-Auth-Token': token },
          },
        );
        expect(response.status).toBe(403);
        expect(((await response.json()) as Record<string, string>).error_code).toBe('WKS.00081102');
      } finally {
        await tokenClient.close();
      }
    });
  });
});
