import type { ActionProgress } from '../types.js';
import type { Refresh } from './schemas.js';

/**
 * Where a DSM refresh stands. `overall_status` is `in_progress`, `completed` or `failed` (doc for
 * the sibling sync jobs; one DSM sample spells it "in progress"), so it is compared after folding
 * case, spaces and dashes. Two surprises from the docs:
 * - a cancelled refresh ends `completed` with `abort: true`: that is a cancellation, not a success;
 * - a status opsbot does not know is not an end: it keeps following (up to the deadline) and says so.
 */

export type RefreshStatus = 'in_progress' | 'completed' | 'failed';
export const REFRESH_STATUSES: readonly RefreshStatus[] = ['in_progress', 'completed', 'failed'];

/** Most per-domain lines in a final message; the rest are counted. */
const MAX_RESULT_LINES = 50;
const MAX_DOMAIN_TEXT = 200;

/** `"In Progress"`, `"in-progress"`, `"IN_PROGRESS"` → `in_progress`. */
export function normalizeStatus(raw: string | undefined): string {
  return (raw ?? '')
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

export interface RefreshMemo {
  refreshId: string;
}

/** Turns one refresh object into the job's progress; `result` only once it has ended. */
export function refreshProgress(refresh: Refresh): ActionProgress {
  const status = normalizeStatus(refresh.overall_status);
  const counted = progressCount(refresh);
  const base = {
    vendorJobId: refresh.id,
    status: refresh.overall_status?.trim() || '(none)',
    memo: { refreshId: refresh.id } satisfies RefreshMemo,
  };
  if (status === 'in_progress') {
    return { ...base, outcome: 'running', detail: refresh.abort ? `cancelling · ${counted}` : counted };
  }
  if (status === 'completed' && refresh.abort) {
    return { ...base, outcome: 'cancelled', detail: `cancelled · ${counted}`, result: domainLines(refresh) };
  }
  if (status === 'completed')
    return { ...base, outcome: 'succeeded', detail: counted, result: domainLines(refresh) };
  if (status === 'failed')
    return { ...base, outcome: 'failed', detail: counted, result: domainLines(refresh) };
  return {
    ...base,
    outcome: 'running',
    detail: `unknown status "${base.status.slice(0, 40)}" from CipherTrust; still following · ${counted}`,
  };
}

/**
 * "2 of 5 domains finished": domains whose `detailed_status` says they ended (well or not), of
 * those the refresh covers. A domain under way may already have an entry ("in_progress"), so an
 * entry alone does not count.
 */
function progressCount(refresh: Refresh): string {
  const finished = Object.values(refresh.detailed_status).filter(domainFinished).length;
  const total = new Set([...refresh.domains, ...Object.keys(refresh.detailed_status)]).size;
  if (refresh.domains.length === 0) return `${finished} ${plural(finished, 'domain')} finished`;
  return `${finished} of ${total} ${plural(total, 'domain')} finished`;
}

/** Words that open an entry about a domain that ended ("failed to synchronize domain: …"). */
const ENDED =
  /^(complete|completed|success|successful|succeeded|synchronized|done|finished|failed|failure|error|aborted|cancelled|canceled)\b/;
/** Words that say a domain is still under way, wherever they stand in its entry. */
const UNDER_WAY =
  /\b(in progress|pending|queued|running|started|starting|synchronizing|syncing|waiting|scheduled|not started)\b/;

/**
 * Whether a `detailed_status` entry (free text, doc: "domain synchronized successfully") says its
 * domain has ended. Case, `_` and `-` are folded, as for `overall_status`.
 */
function domainFinished(value: unknown): boolean {
  const words = (typeof value === 'string' ? value : JSON.stringify(value))
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean)
    .join(' ');
  return ENDED.test(words) || !UNDER_WAY.test(words);
}

/** One line per domain, in the order the refresh lists them; domains it never reached say so. */
function domainLines(refresh: Refresh): string[] {
  const ids = [...new Set([...refresh.domains, ...Object.keys(refresh.detailed_status)])];
  const lines = ids.slice(0, MAX_RESULT_LINES).map((id) => {
    const said = refresh.detailed_status[id];
    return `${id}: ${said === undefined ? 'no status reported' : domainText(said)}`;
  });
  if (ids.length > MAX_RESULT_LINES) lines.push(`… and ${ids.length - MAX_RESULT_LINES} more domains`);
  return lines;
}

/** `detailed_status` values are free text (doc); anything else is shown as compact JSON. */
function domainText(value: unknown): string {
  const text = (typeof value === 'string' ? value : JSON.stringify(value)).replace(/\s+/g, ' ').trim();
  return text.length > MAX_DOMAIN_TEXT ? `${text.slice(0, MAX_DOMAIN_TEXT - 1)}…` : text || '(empty)';
}

function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
}
