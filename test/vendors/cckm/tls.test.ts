import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CckmClient } from '../../../src/vendors/cckm/client.js';
import { cckmVendor } from '../../../src/vendors/cckm/index.js';
import { type CckmSimulator, startCckmSimulator } from '../../../src/vendors/cckm/simulator.js';
import { makeClientDeps } from '../../../src/vendors/client-deps.js';
import { failure, log, targetFor } from './support.js';

/**
 * Appliances ship a self-signed certificate. A target trusts it through its own CA file (an undici
 * Agent for that target alone), or, explicitly, skips the check; nothing global changes.
 */

let sim: CckmSimulator;
let dir: string;
let caFile: string;
const clients: CckmClient[] = [];

beforeAll(async () => {
  sim = await startCckmSimulator({ tls: true });
  dir = mkdtempSync(join(tmpdir(), 'cckm-tls-'));
  caFile = join(dir, 'cm-ca.pem');
  writeFileSync(caFile, sim.certificatePem!);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

function clientWith(tls: Record<string, unknown> | undefined): CckmClient {
  const target = targetFor(sim.url, sim.credentials.password, tls ? { tls } : {});
  const client = cckmVendor.createClient(
    target,
    makeClientDeps({ vendor: 'cckm', target, baseUrl: cckmVendor.baseUrl(target), log }),
  );
  clients.push(client);
  return client;
}

describe('CipherTrust over HTTPS with a self-signed certificate', () => {
  it('works when the target trusts the appliance’s certificate through tls.caFile', async () => {
    expect(sim.url).toMatch(/^https:\/\//);
    const page = await clientWith({ caFile }).listDomains({ skip: 0, limit: 2 });
    expect(page.resources).toHaveLength(2);
  });

  it('fails with a clear, non-retryable error without it', async () => {
    const error = await failure(clientWith(undefined).listDomains({ skip: 0, limit: 2 }));
    expect(error.message).toMatch(
      /^cckm target "lab" presented a TLS certificate opsbot does not trust \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\): set this target's tls.caFile to the PEM of the CA that signed it$/,
    );
    expect(error).toMatchObject({ vendorCode: 'tls', retryable: false, delivery: 'not-sent' });
  });

  it('works with an explicit insecureSkipVerify for this target only', async () => {
    const page = await clientWith({ insecureSkipVerify: true }).listDomains({ skip: 0, limit: 1 });
    expect(page.resources).toHaveLength(1);
    // and a target without the switch is still refused
    await expect(clientWith(undefined).listDomains({ skip: 0, limit: 1 })).rejects.toMatchObject({
      vendorCode: 'tls',
    });
  });
});
