import { afterEach, describe, expect, it } from 'vitest';
import { VendorError } from '../../../src/errors.js';
import { failure, type Setup, setup } from './support.js';

/**
 * Every way CipherTrust can say no, through the real client and a real HTTP server: the body is
 * read defensively (`message ?? codeDesc ?? raw text`, never an HTML page) into one sentence.
 */

let env: Setup | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const LIST = { skip: 0, limit: 1 };
const DOMAINS = '/api/v1/cckm/dsm/domains';

async function errorFor(fault: Parameters<Setup['sim']['inject']>[0], call?: (e: Setup) => Promise<unknown>) {
  env = await setup();
  await env.client.listDomains(LIST); // signed in: the fault hits the call, not the grant
  env.sim.inject({ path: DOMAINS, ...fault });
  const error = await failure(call ? call(env) : env.client.listDomains(LIST));
  expect(error).toBeInstanceOf(VendorError);
  return error as VendorError;
}

describe('CipherTrust error answers', () => {
  it('names codeDesc once when there is no message', async () => {
    const error = await errorFor({ status: 409, body: { code: 9, codeDesc: 'NCERRConflict' } });
    expect(error.message).toBe(`CipherTrust answered HTTP 409 NCERRConflict (code 9) to GET ${DOMAINS}`);
    expect(error).toMatchObject({
      vendorCode: 'NCERRConflict',
      httpStatus: 409,
      retryable: false,
      delivery: 'answered',
    });
    expect(error.code).toBe('vendor.cckm.NCERRConflict');
  });

  it('keeps plain text (shortened), never an HTML page', async () => {
    const long = await errorFor({ status: 400, body: `bad request ${'x'.repeat(500)}` });
    expect(long.message.length).toBeLessThan(320);
    expect(long.message).toMatch(
      /^CipherTrust answered HTTP 400 to GET \/api\/v1\/cckm\/dsm\/domains: bad request x+…$/,
    );
    expect(long.vendorCode).toBe('http-400');

    const html = await errorFor({
      status: 500,
      headers: { 'content-type': 'text/html' },
      body: '<!DOCTYPE html><html><body><script>secret()</script>Internal error</body></html>',
    });
    expect(html.message).toBe(
      `CipherTrust answered HTTP 500 to GET ${DOMAINS}: an HTML page (a proxy or login page?)`,
    );
  });

  it('reads JSON that is not an error object as text', async () => {
    const error = await errorFor({ status: 400, body: ['not', 'an', 'object'] });
    expect(error.message).toBe(`CipherTrust answered HTTP 400 to GET ${DOMAINS}: ["not","an","object"]`);
  });

  it('retries a 500 on a read, not on the start', async () => {
    const read = await errorFor({
      status: 500,
      body: { code: 2, codeDesc: 'NCERRInternal', message: 'db busy' },
    });
    expect(read).toMatchObject({ retryable: true, delivery: 'answered' });
    await env!.close();
    const start = await errorFor(
      {
        path: '/cckm/dsm/refresh',
        status: 500,
        body: { code: 2, codeDesc: 'NCERRInternal', message: 'db busy' },
      },
      (e) => e.client.startRefresh({ synchronize_all: true }),
    );
    expect(start).toMatchObject({ retryable: false, delivery: 'answered' });
  });

  it('honours Retry-After on a 429', async () => {
    const error = await errorFor({
      status: 429,
      headers: { 'retry-after': '7' },
      body: { message: 'too many requests' },
    });
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 7_000, delivery: 'not-sent' });
  });

  it('refuses a 2xx that is not JSON, or not the documented shape', async () => {
    const html = await errorFor({
      status: 200,
      headers: { 'content-type': 'text/html' },
      body: '<html>login</html>',
    });
    expect(html.message).toBe(
      `CipherTrust answered HTTP 200 with text/html instead of JSON to GET ${DOMAINS} (a proxy or login page?)`,
    );
    await env!.close();
    const shape = await errorFor({ status: 200, body: { resources: [{ name: 'no id' }] } });
    expect(shape.message).toBe(
      `CipherTrust answered GET ${DOMAINS} with an unexpected shape (resources.0.id: Invalid input: expected string, received undefined)`,
    );
    expect(shape.retryable).toBe(false);
  });

  it('turns a dropped connection into a retryable error whose delivery is uncertain', async () => {
    const error = await errorFor({ reset: true });
    expect(error).toMatchObject({ vendorCode: 'network', retryable: true, delivery: 'uncertain' });
  });

  it('gives up on a call that never answers, within the target’s timeout', async () => {
    env = await setup({ target: { timeouts: { request: '300ms' } } });
    await env.client.listDomains(LIST);
    env.sim.inject({ path: DOMAINS, hang: true });
    const error = await failure(env.client.listDomains(LIST));
    expect(error).toMatchObject({ vendorCode: 'timeout', retryable: true });
  });

  it('fails a grant that answers without a JWT', async () => {
    env = await setup();
    env.sim.inject({ path: '/auth/tokens', status: 200, body: { duration: 300 } });
    const error = await failure(env.client.listDomains(LIST));
    expect(error.message).toBe(
      'CipherTrust answered POST /api/v1/auth/tokens/ with an unexpected shape (jwt: Invalid input: expected string, received undefined)',
    );
  });
});
