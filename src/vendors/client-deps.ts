import type { Logger } from 'pino';
import { type VendorCallObserver, VendorHttp } from './http.js';
import type { ClientDeps, TargetCommon } from './types.js';

/** Builds what a vendor client needs for one target: HTTP clients that carry that target's TLS. */
export function makeClientDeps(options: {
  vendor: string;
  target: TargetCommon;
  baseUrl: string;
  log: Logger;
  observer?: VendorCallObserver | undefined;
  now?: () => number;
}): ClientDeps {
  return {
    http: (overrides = {}) =>
      new VendorHttp({
        vendor: options.vendor,
        target: options.target.name,
        baseUrl: overrides.baseUrl ?? options.baseUrl,
        tls: options.target.tls,
        timeouts: options.target.timeouts,
        observer: options.observer,
        requestIdHeader: overrides.requestIdHeader,
        maxResponseBytes: options.target.maxResponseBytes,
      }),
    log: options.log.child({ vendor: options.vendor, target: options.target.name }),
    now: options.now ?? Date.now,
  };
}
