import { pino } from 'pino';
import { Secret } from '../../../src/config/secret.js';
import { VendorError } from '../../../src/errors.js';
import { makeClientDeps } from '../../../src/vendors/client-deps.js';
import type { VendorCallRecord } from '../../../src/vendors/http.js';
import type { ActionContext } from '../../../src/vendors/types.js';
import {
  type WorkspaceClient,
  type WorkspaceTarget,
  workspaceVendor,
} from '../../../src/vendors/workspace/index.js';
import {
  SIM_ACCESS_KEY,
  SIM_SECRET_KEY,
  SIM_USER,
  type WorkspaceSimulator,
} from '../../../src/vendors/workspace/simulator.js';

export const log = pino({ level: 'silent' });

export function secret(value: string): Secret {
  return new Secret(value, 'env:TEST_WORKSPACE');
}

/** A target as the config loader would produce it: validated by the vendor's own schema. */
export function target(raw: Record<string, unknown>): WorkspaceTarget {
  return { ...workspaceVendor.targetSchema.parse(raw), name: 'test' } as WorkspaceTarget;
}

export function tokenTarget(sim: WorkspaceSimulator, password = SIM_USER.password): WorkspaceTarget {
  return target({
    region: 'ap-southeast-1',
    url: sim.url,
    iamUrl: sim.url,
    projectId: sim.projectId,
    auth: { type: 'token', user: SIM_USER.name, password: secret(password), domain: SIM_USER.domain },
  });
}

export function akskTarget(sim: WorkspaceSimulator, secretKey = SIM_SECRET_KEY): WorkspaceTarget {
  return target({
    region: 'ap-southeast-1',
    url: sim.url,
    projectId: sim.projectId,
    auth: { type: 'aksk', accessKey: secret(SIM_ACCESS_KEY), secretKey: secret(secretKey) },
  });
}

export function clientFor(
  t: WorkspaceTarget,
  options: { now?: () => number; calls?: VendorCallRecord[] } = {},
): WorkspaceClient {
  const deps = makeClientDeps({
    vendor: workspaceVendor.name,
    target: t,
    baseUrl: workspaceVendor.baseUrl(t),
    log,
    now: options.now,
    observer: options.calls ? (call) => options.calls?.push(call) : undefined,
  });
  return workspaceVendor.createClient(t, deps);
}

export function ctx(client: WorkspaceClient): ActionContext<WorkspaceClient> {
  return { client, target: 'test', log };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `fn` and returns the VendorError it threw (anything else fails the test). */
export async function thrown(fn: () => Promise<unknown>): Promise<VendorError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof VendorError) return error;
    throw error;
  }
  throw new Error('expected the call to throw');
}

export const SERVER_ID = '25b1dd14-0c84-4558-aa57-03a6c54b8e75';
export const OTHER_SERVER_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
