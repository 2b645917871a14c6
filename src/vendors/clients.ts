import type { Logger } from 'pino';
import { InputError } from '../errors.js';
import { excerpt } from '../slack/mrkdwn.js';
import { makeClientDeps } from './client-deps.js';
import type { VendorCallObserver } from './http.js';
import { findVendor } from './registry.js';
import type { TargetCommon } from './types.js';

/**
 * One vendor client per configured target per process, created on first use and shared by every
 * job: that is what lets a token be minted once per target and reused by thousands of actions.
 */
export class VendorClients {
  readonly #clients = new Map<string, unknown>();

  constructor(
    private readonly targets: ReadonlyMap<string, ReadonlyMap<string, TargetCommon>>,
    private readonly log: Logger,
    private readonly observer?: VendorCallObserver,
  ) {}

  /** The target a command means: the one named, or the only one configured. */
  resolveTarget(vendorName: string, requested: string | undefined): string {
    const names = [...(this.targets.get(vendorName)?.keys() ?? [])];
    if (requested !== undefined) {
      if (names.includes(requested)) return requested;
      throw new InputError(
        names.length === 0
          ? `no ${vendorName} targets are configured`
          : `unknown ${vendorName} target "${excerpt(requested)}" (configured: ${names.join(', ')})`,
      );
    }
    if (names.length === 1) return names[0]!;
    throw new InputError(
      names.length === 0
        ? `no ${vendorName} targets are configured; add one under targets.${vendorName} in the config file`
        : `several ${vendorName} targets are configured (${names.join(', ')}): add --target <name>`,
    );
  }

  get<Client>(vendorName: string, targetName: string): Client {
    const key = `${vendorName}/${targetName}`;
    let client = this.#clients.get(key);
    if (!client) {
      const vendor = findVendor(vendorName);
      const target = this.targets.get(vendorName)?.get(targetName);
      if (!vendor || !target) throw new InputError(`target ${key} is not configured (any more)`);
      client = vendor.createClient(
        target,
        makeClientDeps({
          vendor: vendorName,
          target,
          baseUrl: vendor.baseUrl(target),
          log: this.log,
          observer: this.observer,
        }),
      );
      this.#clients.set(key, client);
    }
    return client as Client;
  }

  /** Targets whose traffic is less protected than it should be, to be named loudly at start. */
  insecureTargets(): Array<{ target: string; warning: string }> {
    const out: Array<{ target: string; warning: string }> = [];
    for (const [vendor, byName] of this.targets) {
      for (const [name, target] of byName) {
        if (target.tls?.insecureSkipVerify)
          out.push({
            target: `${vendor}/${name}`,
            warning: 'TLS certificate checks are OFF for this target (tls.insecureSkipVerify)',
          });
        if (target.allowInsecureHttp)
          out.push({
            target: `${vendor}/${name}`,
            warning:
              'plain http:// is allowed for this target: its credentials may cross the network in clear (allowInsecureHttp)',
          });
      }
    }
    return out;
  }
}
