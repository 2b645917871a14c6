import type { VendorModule } from '../types.js';
import { CckmClient } from './client.js';
import { refreshAction } from './refresh.js';
import { refreshStatusAction } from './refresh-status.js';
import { apiBaseUrl, type CckmTarget, cckmTargetSchema } from './target.js';

/**
 * Thales CipherTrust Manager, Cloud Key Manager (CCKM) for DSM domains: start a domain refresh and
 * follow it, or list recent refreshes. Vendor facts: shared/vendors/ciphertrust.md.
 */
export const cckmVendor: VendorModule<CckmTarget, CckmClient> = {
  name: 'cckm',
  title: 'Thales CipherTrust Manager (CCKM DSM)',
  targetSchema: cckmTargetSchema,
  baseUrl: apiBaseUrl,
  createClient: (target, deps) => new CckmClient(target, deps),
  actions: [refreshAction, refreshStatusAction],
};

export type { CckmClient } from './client.js';
export type { CckmTarget } from './target.js';
