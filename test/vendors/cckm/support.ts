import { pino } from 'pino';
import { Secret } from '../../../src/config/secret.js';
import type { VendorError } from '../../../src/errors.js';
import type { CckmClient } from '../../../src/vendors/cckm/client.js';
import { cckmVendor } from '../../../src/vendors/cckm/index.js';
import {
  type CckmSimulator,
  type CckmSimulatorOptions,
  startCckmSimulator,
} from '../../../src/vendors/cckm/simulator.js';
import { type CckmTarget, cckmTargetSchema } from '../../../src/vendors/cckm/target.js';
import { makeClientDeps } from '../../../src/vendors/client-deps.js';
import type { ActionContext, ActionDef } from '../../../src/vendors/types.js';

export const log = pino({ level: 'silent' });

/** An action by verb, untyped: for tests of what every action declares (params, schema). */
export function action(verb: string): ActionDef {
  const found = cckmVendor.actions.find((a) => a.verb === verb);
  if (!found) throw new Error(`no cckm action ${verb}`);
  return found;
}

/** A clock both the simulator and the client read, moved by hand: hours pass in microseconds. */
export class Clock {
  t = Date.UTC(2025, 4, 1, 10, 0, 0);
  readonly now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface Setup {
  sim: CckmSimulator;
  clock: Clock;
  target: CckmTarget;
  client: CckmClient;
  ctx: ActionContext<CckmClient>;
  /** A second client for the same target (another worker process). */
  newClient(target?: CckmTarget): CckmClient;
  close(): Promise<void>;
}

export function targetFor(url: string, password: string, extra: Record<string, unknown> = {}): CckmTarget {
  const parsed = cckmTargetSchema.parse({
    url,
    username: 'admin',
    password: new Secret(password, 'test'),
    ...extra,
  });
  return { ...parsed, name: 'lab' };
}

/** A simulator and a client pointed at it, sharing one hand-moved clock. */
export async function setup(
  options: { sim?: CckmSimulatorOptions; target?: Record<string, unknown>; password?: string } = {},
): Promise<Setup> {
  const clock = new Clock();
  const sim = await startCckmSimulator({ now: clock.now, ...options.sim });
  const target = targetFor(sim.url, options.password ?? sim.credentials.password, options.target);
  const clients: CckmClient[] = [];
  const newClient = (forTarget = target) => {
    const deps = makeClientDeps({
      vendor: 'cckm',
      target: forTarget,
      baseUrl: cckmVendor.baseUrl(forTarget),
      log,
      now: clock.now,
    });
    const client = cckmVendor.createClient(forTarget, deps);
    clients.push(client);
    return client;
  };
  const client = newClient();
  return {
    sim,
    clock,
    target,
    client,
    ctx: { client, target: 'lab', log },
    newClient,
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
      await sim.close();
    },
  };
}

/** The request bodies the simulator received on a path (parsed JSON). */
export function bodiesTo(sim: CckmSimulator, method: string, path: string): Record<string, unknown>[] {
  return sim.requests
    .filter((req) => req.method === method && req.path.replace(/\/$/, '') === path)
    .map((req) => JSON.parse(req.body) as Record<string, unknown>);
}

/** Runs a promise expected to fail and returns what it threw. */
export async function failure(promise: Promise<unknown>): Promise<VendorError> {
  try {
    await promise;
  } catch (error) {
    return error as VendorError;
  }
  throw new Error('expected a failure');
}
