import type { VendorModule } from '../types.js';
import { EceClient } from './client.js';
import { VENDOR } from './errors.js';
import { restartResource } from './restart.js';
import { apiBaseUrl, type EceTarget, eceTargetSchema } from './target.js';

/** Elastic Cloud Enterprise: restart a deployment's stateless resource and follow its plan. */
export const eceVendor: VendorModule<EceTarget, EceClient> = {
  name: VENDOR,
  title: 'Elastic Cloud Enterprise',
  targetSchema: eceTargetSchema,
  baseUrl: apiBaseUrl,
  createClient: (target, deps) => new EceClient(target, deps),
  actions: [restartResource],
};

export { EceClient } from './client.js';
export type { EceTarget } from './target.js';
