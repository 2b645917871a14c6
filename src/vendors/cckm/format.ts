import { instantOf } from '../instant.js';
import type { Instant } from '../types.js';
import type { Domain, Refresh } from './schemas.js';
import { normalizeStatus } from './status.js';

/** Short lines about refreshes and domains, for dry runs and `refresh-status`, readable on a phone. */

/** `` `<id>` completed · 5 domains · <created> ``: the creation time stays an instant. */
export function refreshLine(refresh: Refresh): Array<string | Instant> {
  const parts: Array<string | Instant> = [
    `\`${refresh.id}\` ${stateWords(normalizeStatus(refresh.overall_status), refresh.abort)}`,
  ];
  if (refresh.domains.length > 0)
    parts.push(` · ${refresh.domains.length} domain${refresh.domains.length === 1 ? '' : 's'}`);
  if (refresh.createdAt) parts.push(' · ', instantOf(refresh.createdAt));
  return parts;
}

/**
 * Where a refresh stands, in words: a refresh cancelled with `abort` ends `completed` (doc), which
 * is said as cancelled; a status opsbot does not know is shown as CipherTrust gave it.
 */
function stateWords(status: string, abort: boolean): string {
  switch (status) {
    case 'in_progress':
      return abort ? 'in progress, cancelling' : 'in progress';
    case 'completed':
      return abort ? 'cancelled' : 'completed';
    case '':
      return 'no status';
    default:
      return status;
  }
}

/** `` `<id>` dsm-prod-eu`` */
export function domainLine(domain: Domain): string {
  return domain.name ? `\`${domain.id}\` ${domain.name}` : `\`${domain.id}\``;
}
