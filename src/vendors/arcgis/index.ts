import type { VendorModule } from '../types.js';
import { ArcgisClient } from './client.js';
import { VENDOR } from './errors.js';
import { refreshDeployment } from './refresh-deployment.js';
import { refreshGroups } from './refresh-groups.js';
import { type ArcgisTarget, arcgisTargetSchema, siteUrl } from './target.js';

/** ArcGIS Enterprise (on Kubernetes) Administrator API, 10.9.1+. */
export const arcgisVendor: VendorModule<ArcgisTarget, ArcgisClient> = {
  name: VENDOR,
  title: 'ArcGIS Enterprise',
  targetSchema: arcgisTargetSchema,
  baseUrl: siteUrl,
  createClient: (target, deps) => new ArcgisClient(target, deps),
  actions: [refreshDeployment, refreshGroups],
};

export { ArcgisClient } from './client.js';
export type { ArcgisTarget } from './target.js';
