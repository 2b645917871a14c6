import type { Domain, Refresh } from './schemas.js';
import { normalizeStatus } from './status.js';

/** Short lines about refreshes and domains, for dry runs and `refresh-status`, readable on a phone. */

/** `` `<id>` completed · 5 domains · 2024-05-01 10:32 UTC · aborted`` */
export function refreshLine(refresh: Refresh): string {
  const status = normalizeStatus(refresh.overall_status) || 'no status';
  const parts = [`\`${refresh.id}\` ${status}`];
  if (refresh.domains.length > 0)
    parts.push(`${refresh.domains.length} domain${refresh.domains.length === 1 ? '' : 's'}`);
  if (refresh.createdAt) parts.push(formatTime(refresh.createdAt));
  if (refresh.abort) parts.push(status === 'in_progress' ? 'cancelling' : 'aborted');
  return parts.join(' · ');
}

/** `` `<id>` dsm-prod-eu`` */
export function domainLine(domain: Domain): string {
  return domain.name ? `\`${domain.id}\` ${domain.name}` : `\`${domain.id}\``;
}

/** `2024-05-01T10:32:07.123Z` → `2024-05-01 10:32 UTC`; text that is not a date is shown as it came. */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso.slice(0, 40);
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
