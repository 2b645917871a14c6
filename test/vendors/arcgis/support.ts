import { pino } from 'pino';
import { Secret } from '../../../src/config/secret.js';
import { type ArcgisClient, arcgisVendor } from '../../../src/vendors/arcgis/index.js';
import type { ArcgisSimulator } from '../../../src/vendors/arcgis/simulator.js';
import type { ArcgisTarget } from '../../../src/vendors/arcgis/target.js';
import { makeClientDeps } from '../../../src/vendors/client-deps.js';
import type { VendorCallRecord } from '../../../src/vendors/http.js';
import type { ActionContext, ActionProgress } from '../../../src/vendors/types.js';

export const log = pino({ level: 'silent' });

/** A validated target for the simulator, as the config loader would build it. */
export function targetFor(sim: ArcgisSimulator, overrides: Record<string, unknown> = {}): ArcgisTarget {
  const parsed = arcgisVendor.targetSchema.parse({
    url: sim.url,
    username: sim.username,
    password: new Secret(sim.password, 'test:password'),
    ...overrides,
  });
  return { ...parsed, name: 'test' } as ArcgisTarget;
}

/** A client against the simulator, with a call log and an optional clock. */
export function clientFor(
  sim: ArcgisSimulator,
  overrides: Record<string, unknown> = {},
  now?: () => number,
): { client: ArcgisClient; ctx: ActionContext<ArcgisClient>; calls: VendorCallRecord[] } {
  const target = targetFor(sim, overrides);
  const calls: VendorCallRecord[] = [];
  const deps = makeClientDeps({
    vendor: 'arcgis',
    target,
    baseUrl: arcgisVendor.baseUrl(target),
    log,
    observer: (call) => calls.push(call),
    ...(now ? { now } : {}),
  });
  const client = arcgisVendor.createClient(target, deps);
  return { client, ctx: { client, target: 'test', log }, calls };
}

export function action(verb: string) {
  const found = arcgisVendor.actions.find((a) => a.verb === verb);
  if (!found) throw new Error(`no action ${verb}`);
  return found;
}

/** Polls like the job runner does (without the waits) until the action ends or `max` polls. */
export async function pollToEnd(
  verb: string,
  ctx: ActionContext<ArcgisClient>,
  args: unknown,
  first: ActionProgress,
  max = 100,
): Promise<ActionProgress[]> {
  const seen = [first];
  let last = first;
  for (let i = 0; i < max && last.outcome === 'running'; i++) {
    last = JSON.parse(JSON.stringify(await action(verb).poll!(ctx, args, last))) as ActionProgress;
    seen.push(last);
  }
  return seen;
}

/** Fails the test with the error's message when `promise` does not reject. */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}
