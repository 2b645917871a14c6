import { pino } from 'pino';
import { Secret } from '../../../src/config/secret.js';
import { makeClientDeps } from '../../../src/vendors/client-deps.js';
import type { EceClient } from '../../../src/vendors/ece/client.js';
import { eceVendor } from '../../../src/vendors/ece/index.js';
import { type RestartArgs, restartArgs, restartResource } from '../../../src/vendors/ece/restart.js';
import {
  type EceSimulator,
  type EceSimulatorOptions,
  startEceSimulator,
} from '../../../src/vendors/ece/simulator.js';
import type { EceTarget } from '../../../src/vendors/ece/target.js';
import type { ActionContext, ActionProgress } from '../../../src/vendors/types.js';

export const log = pino({ level: 'silent' });
export const STEP_MS = 1_000;

/** A clock the simulator reads; tests move it instead of sleeping. */
export function manualClock(start = Date.parse('2025-03-01T10:00:00Z')) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

export async function simWithClock(options: EceSimulatorOptions = {}) {
  const clock = manualClock();
  const sim = await startEceSimulator({ stepMs: STEP_MS, now: clock.now, ...options });
  return { sim, clock };
}

export type Credentials = { apiKey: string } | { username: string; password: string };

export function targetFor(
  sim: EceSimulator,
  credentials: Credentials = { apiKey: sim.credentials.apiKey },
): EceTarget {
  const secrets =
    'apiKey' in credentials
      ? { apiKey: new Secret(credentials.apiKey, 'test:apiKey') }
      : { username: credentials.username, password: new Secret(credentials.password, 'test:password') };
  return { name: 'lab', ...eceVendor.targetSchema.parse({ url: sim.url, ...secrets }) };
}

export function contextFor(sim: EceSimulator, credentials?: Credentials): ActionContext<EceClient> {
  const target = targetFor(sim, credentials);
  const deps = makeClientDeps({ vendor: 'ece', target, baseUrl: eceVendor.baseUrl(target), log });
  return { client: eceVendor.createClient(target, deps), target: target.name, log };
}

export function args(raw: Record<string, string | true>): RestartArgs {
  return restartArgs.parse(raw);
}

/** Start, then poll (moving the clock one step between polls) until the action ends. */
export async function walk(
  ctx: ActionContext<EceClient>,
  input: RestartArgs,
  clock: { advance(ms: number): void },
  maxPolls = 30,
): Promise<{ updates: ActionProgress[]; last: ActionProgress }> {
  let last = await restartResource.start!(ctx, input);
  const updates = [last];
  for (let i = 0; i < maxPolls && last.outcome === 'running'; i += 1) {
    clock.advance(STEP_MS);
    last = await restartResource.poll!(ctx, input, last);
    updates.push(last);
  }
  return { updates, last };
}

/** What the thread would show: each change of (status, detail). */
export function threadLines(updates: ActionProgress[]): string[] {
  const lines: string[] = [];
  for (const update of updates) {
    const line = `${update.status} · ${update.detail ?? ''}`;
    if (lines.at(-1) !== line) lines.push(line);
  }
  return lines;
}
