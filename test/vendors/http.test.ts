import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { VendorError } from '../../src/errors.js';
import { VendorClients } from '../../src/vendors/clients.js';
import type { EceClient } from '../../src/vendors/ece/client.js';
import { type EceSimulator, startEceSimulator } from '../../src/vendors/ece/simulator.js';
import type { VendorCallRecord } from '../../src/vendors/http.js';
import { problemsOf } from '../config/problems.js';

/**
 * The cap on vendor answers, end to end: a target configured as an operator would, a real ECE
 * simulator streaming a runaway answer, and the client's real HTTP path in between.
 */

const MiB = 1024 * 1024;
const log = pino({ level: 'silent' });

let sim: EceSimulator;
let deployment: { id: string };

beforeAll(async () => {
  sim = await startEceSimulator();
  deployment = sim.addDeployment({ resources: [{ kind: 'kibana' }] });
});
afterAll(async () => {
  await sim.close();
});
afterEach(() => {
  sim.clearFaults();
});

function configWith(extra: { vendors?: unknown; target?: Record<string, unknown> } = {}) {
  return loadConfig({
    env: { T: 'xoxb-1', S: 'signing-secret', ECE_API_KEY: sim.credentials.apiKey },
    document: {
      slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
      policy: { channels: ['*'] },
      ...(extra.vendors === undefined ? {} : { vendors: extra.vendors }),
      targets: { ece: { prod: { url: sim.url, apiKey: { env: 'ECE_API_KEY' }, ...extra.target } } },
    },
  });
}

/** The ECE client of `targets.ece.prod`, built the way a worker builds it, with its calls recorded. */
function eceClient(extra: Parameters<typeof configWith>[0] = {}) {
  const calls: VendorCallRecord[] = [];
  const vendorClients = new VendorClients(configWith(extra).targets, log, (call) => calls.push(call));
  return { client: vendorClients.get<EceClient>('ece', 'prod'), calls };
}

async function failureOf(promise: Promise<unknown>): Promise<VendorError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof VendorError)) throw new Error(`expected a VendorError, got ${String(error)}`);
  return error;
}

/** Streams `bytes` at the next resource read, and tells how the stream ended. */
function hugeAnswer(bytes: number) {
  let resolveEnd: (outcome: { bytesWritten: number; complete: boolean }) => void;
  const ended = new Promise<{ bytesWritten: number; complete: boolean }>((resolve) => {
    resolveEnd = resolve;
  });
  sim.inject({
    method: 'GET',
    path: '/kibana/',
    hugeBody: { bytes, onEnd: (outcome) => resolveEnd(outcome) },
  });
  return ended;
}

const ref = () => ({ deploymentId: deployment.id, kind: 'kibana' as const, refId: '_main' });

describe('vendor answer size cap', () => {
  it('refuses a runaway answer at 1 MiB by default, with a clear error, and stops reading it', async () => {
    const { client, calls } = eceClient();
    // Far more than the socket buffers on both sides hold (a few MiB on loopback), so the
    // simulator can only finish sending if opsbot reads on.
    const ended = hugeAnswer(64 * MiB);
    const error = await failureOf(client.getResource(ref()));
    expect(error.message).toBe(
      `ece target "prod" answered GET /api/v1/deployments/${deployment.id}/kibana/_main with more than 1 MiB; ` +
        'opsbot stopped reading it (raise maxResponseBytes for this target if such answers are expected)',
    );
    expect(error).toMatchObject({
      code: 'vendor.ece.answer-too-large',
      httpStatus: 200,
      retryable: false,
      delivery: 'answered',
    });
    // The simulator could not send it all: opsbot hung up instead of reading on.
    const outcome = await ended;
    expect(outcome.complete).toBe(false);
    expect(outcome.bytesWritten).toBeLessThan(64 * MiB);
    expect(calls.at(-1)).toMatchObject({ status: undefined, errorCode: 'answer-too-large' });

    // The target still works for the next, ordinary answer.
    expect((await client.getResource(ref())).ref_id).toBe('main-kibana');
  });

  it('refuses an answer whose Content-Length is over the cap without reading it', async () => {
    const { client } = eceClient({ target: { maxResponseBytes: '64KiB' } });
    sim.inject({ method: 'GET', path: '/kibana/', status: 200, body: 'x'.repeat(65 * 1024) });
    const error = await failureOf(client.getResource(ref()));
    expect(error.message).toContain('with more than 64 KiB;');
  });

  it('takes the cap from vendors.maxResponseBytes, and a target may set its own', async () => {
    const everyTarget = eceClient({ vendors: { maxResponseBytes: '512KiB' } });
    hugeAnswer(2 * MiB);
    expect((await failureOf(everyTarget.client.getResource(ref()))).message).toContain('more than 512 KiB;');

    const ownCap = eceClient({
      vendors: { maxResponseBytes: '512KiB' },
      target: { maxResponseBytes: 300_000 },
    });
    hugeAnswer(2 * MiB);
    expect((await failureOf(ownCap.client.getResource(ref()))).message).toContain('more than 293.0 KiB;');
  });

  it('says a mutating call may have been made when its answer was too large to read', async () => {
    const { client } = eceClient({ target: { maxResponseBytes: '64KiB' } });
    sim.inject({ method: 'POST', path: '/_restart', hugeBody: { bytes: MiB } });
    const error = await failureOf(client.restart(ref(), false));
    expect(error).toMatchObject({ code: 'vendor.ece.answer-too-large', delivery: 'uncertain' });
  });

  it('reads sizes as bytes or KiB, MiB and GiB, and refuses anything else by key', () => {
    expect(configWith({ vendors: { maxResponseBytes: '2MiB' } }).vendors.maxResponseBytes).toBe(2 * MiB);
    expect(configWith().vendors.maxResponseBytes).toBe(MiB);
    const prod = (config: ReturnType<typeof configWith>) => config.targets.get('ece')?.get('prod');
    expect(prod(configWith())?.maxResponseBytes).toBe(MiB);
    expect(prod(configWith({ target: { maxResponseBytes: 4096 } }))?.maxResponseBytes).toBe(4096);
    expect(prod(configWith({ target: { maxResponseBytes: '1.5 GiB' } }))?.maxResponseBytes).toBe(
      1.5 * 1024 * MiB,
    );
    expect(problemsOf(() => configWith({ vendors: { maxResponseBytes: '1MB' } }))).toEqual([
      'vendors.maxResponseBytes: "1MB" is not a size (write a number of bytes, or e.g. 512KiB, 1MiB)',
    ]);
    expect(problemsOf(() => configWith({ target: { maxResponseBytes: 0 } }))).toEqual([
      'targets.ece.prod.maxResponseBytes: "0" is not a size (write a number of bytes, or e.g. 512KiB, 1MiB)',
    ]);
    expect(problemsOf(() => configWith({ vendors: { retries: 3 } }))).toEqual([
      'vendors: unknown key(s) retries',
    ]);
  });
});
