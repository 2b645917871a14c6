import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VendorError } from '../../../src/errors.js';
import { ArcgisTokenRejected, readArcgisAnswer } from '../../../src/vendors/arcgis/errors.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../../src/vendors/arcgis/simulator.js';
import type { HttpAnswer } from '../../../src/vendors/http.js';
import { action, clientFor, rejection } from './support.js';

function answer(body: unknown, status = 200, contentType = 'application/json'): HttpAnswer {
  return {
    status,
    headers: { 'content-type': contentType },
    contentType,
    text: typeof body === 'string' ? body : JSON.stringify(body),
    url: 'https://gis.example.com/arcgis/admin/x',
  };
}

function failure(body: unknown, status?: number, contentType?: string): VendorError {
  try {
    readArcgisAnswer(answer(body, status, contentType), 'do the thing');
  } catch (error) {
    return error as VendorError;
  }
  throw new Error('expected a failure');
}

describe('readArcgisAnswer: one sentence naming the code, for every documented shape', () => {
  it('returns a plain answer, including a job whose own status is FAILED', () => {
    expect(readArcgisAnswer(answer({ status: 'success' }), 'x')).toEqual({ status: 'success' });
    expect(readArcgisAnswer(answer({ jobid: 'j1', status: 'FAILED' }), 'x')).toEqual({
      jobid: 'j1',
      status: 'FAILED',
    });
  });

  it('{"error":{code,message,details}} with HTTP 200', () => {
    const error = failure({
      error: { code: 500, message: 'Unable to complete operation.', details: ['Pod not found.'] },
    });
    expect(error.message).toBe(
      'ArcGIS refused to do the thing: error 500, Unable to complete operation. — Pod not found.',
    );
    expect(error).toMatchObject({ vendorCode: '500', retryable: false, delivery: 'answered' });
  });

  it('prefers messageCode over code', () => {
    const error = failure({
      error: { code: 403, messageCode: 'GWM_0004', message: 'Not authorized.', details: [] },
    });
    expect(error.message).toBe('ArcGIS refused to do the thing: error GWM_0004, Not authorized.');
    expect(error.vendorCode).toBe('GWM_0004');
  });

  it('treats an error code that means "try again" as retryable', () => {
    const error = failure({ error: { code: 503, message: 'Service unavailable.', details: [] } });
    expect(error).toMatchObject({ retryable: true, delivery: 'not-sent' });
  });

  it('{"status":"failed"|"failure"} and {"status":"error","messages":[…]}', () => {
    expect(failure({ status: 'failed', messages: ['Deployment busy.'] }).message).toBe(
      'ArcGIS refused to do the thing: status "failed", Deployment busy.',
    );
    expect(failure({ status: 'failure' })).toMatchObject({
      message: 'ArcGIS refused to do the thing: status "failure"',
      vendorCode: 'status-failure',
    });
    expect(failure({ status: 'error', messages: ['Group not found.', 'Try again.'] }).message).toBe(
      'ArcGIS refused to do the thing: status "error", Group not found. — Try again.',
    );
  });

  it('a top-level code >= 400', () => {
    const error = failure({ code: 404, message: 'Resource not found.' });
    expect(error.message).toBe('ArcGIS refused to do the thing: error 404, Resource not found.');
    expect(error.vendorCode).toBe('404');
  });

  it('498 and 499 are token rejections the client retries', () => {
    expect(failure({ error: { code: 498, message: 'Invalid token.', details: [] } })).toBeInstanceOf(
      ArcgisTokenRejected,
    );
    const required = failure({
      error: { code: 499, message: 'Token Required', messageCode: 'GWM_0003', details: ['Token Required'] },
    });
    expect(required).toBeInstanceOf(ArcgisTokenRejected);
    expect(required.message).toBe(
      'ArcGIS rejected the token for do the thing: error GWM_0003, Token Required',
    );
  });

  it('a non-2xx status says the status and content type, and the code when the body has one', () => {
    const html = failure(
      '<html><body>Bad gateway secret-internal-host</body></html>',
      502,
      'text/html; charset=utf-8',
    );
    expect(html.message).toBe('ArcGIS answered HTTP 502 (text/html) to do the thing');
    expect(html).toMatchObject({
      vendorCode: 'http-502',
      httpStatus: 502,
      retryable: true,
      delivery: 'uncertain',
    });
    const json = failure({ error: { code: 401, message: 'Unauthorized.' } }, 401);
    expect(json.message).toBe(
      'ArcGIS answered HTTP 401 (application/json) to do the thing: error 401, Unauthorized.',
    );
    expect(json.retryable).toBe(false);
  });

  it('an HTML page with HTTP 200 is a failure that never echoes the page', () => {
    const error = failure('<html><title>Sign in</title></html>', 200, 'text/html');
    expect(error.message).toBe(
      'ArcGIS answered HTTP 200 with text/html instead of JSON to do the thing (a proxy or login page?)',
    );
    expect(error.message).not.toContain('Sign in');
  });

  it('JSON that is not an object is a failure too', () => {
    expect(failure('[1,2]').message).toContain('instead of JSON');
  });

  it('keeps long vendor text short', () => {
    const error = failure({ error: { code: 500, message: 'x'.repeat(5000) } });
    expect(error.message.length).toBeLessThan(400);
  });
});

describe('errors from the simulator, through the client', () => {
  let sim: ArcgisSimulator;
  beforeAll(async () => {
    sim = await startArcgisSimulator();
  });
  afterAll(() => sim.close());

  it('an HTML error page from a proxy on the refresh call: status and type, uncertain delivery', async () => {
    const { ctx } = clientFor(sim);
    sim.failWithHtml({ path: '/refresh', status: 502 });
    const refresh = action('refresh-deployment');
    const error = await rejection(
      refresh.start!(ctx, refresh.args.parse({ deploymentId: 'kvyxph9w5h3o9vgk8dixn' })),
    );
    expect(error.message).toBe(
      'ArcGIS answered HTTP 502 (text/html) to refresh deployment kvyxph9w5h3o9vgk8dixn',
    );
    expect(error).toMatchObject({ retryable: true, delivery: 'uncertain' });
  });

  it('a 5xx storm: 503s (not sent, retryable) then 502s, then normal answers', async () => {
    const { client } = clientFor(sim);
    await client.deploymentStatus('kvyxph9w5h3o9vgk8dixn');
    sim.setScenario('5xx-storm');
    const outcomes: string[] = [];
    for (let i = 0; i < 7; i++) {
      try {
        await client.deploymentStatus('kvyxph9w5h3o9vgk8dixn');
        outcomes.push('ok');
      } catch (error) {
        const e = error as VendorError;
        expect(e.retryable).toBe(true);
        outcomes.push(`${e.httpStatus} ${e.delivery}`);
      }
    }
    sim.setScenario('success');
    expect(outcomes).toEqual([
      '503 not-sent',
      '503 not-sent',
      '503 not-sent',
      '502 uncertain',
      '502 uncertain',
      '502 uncertain',
      'ok',
    ]);
  });
});
