import { OWNER } from './simulator-replies.js';

/**
 * One simulated DSM refresh and how the API shows it at a given time. Nothing is stored but the
 * start time, the domains, the step length and when a cancel came: the state is computed on each
 * read, so thousands of refreshes progress without timers.
 */

export interface SimRefresh {
  id: string;
  /** Creation order, to break ties when sorting. */
  seq: number;
  createdAt: number;
  domains: string[];
  /** Time each domain takes. */
  stepMs: number;
  /** Index of the domain that fails (`failure` scenario). */
  failAt: number | undefined;
  /** When cancel was asked. */
  abortAt: number | undefined;
}

export interface SimRefreshView {
  id: string;
  overall_status: 'in_progress' | 'completed' | 'failed';
  detailed_status: Record<string, string>;
  domains: string[];
  abort: boolean;
  [field: string]: unknown;
}

export const SUCCESS_TEXT = 'domain synchronized successfully';
export const FAILURE_TEXT =
  'failed to synchronize domain: could not connect to DSM server dsm-02.example.com:443 (connection refused)';

/**
 * The refresh object (doc) at time `at`: one more domain in `detailed_status` per step; `failed`
 * once all are done if one failed; after a cancel, the domain under way finishes, then it ends
 * `completed` with `abort: true`.
 */
export function refreshView(refresh: SimRefresh, at: number): SimRefreshView {
  const n = refresh.domains.length;
  const stopAt =
    refresh.abortAt === undefined
      ? Number.POSITIVE_INFINITY
      : refresh.createdAt +
        Math.ceil((refresh.abortAt - refresh.createdAt) / refresh.stepMs) * refresh.stepMs;
  const done = Math.min(n, Math.floor((Math.min(at, stopAt) - refresh.createdAt) / refresh.stepMs));
  const detailed: Record<string, string> = {};
  for (const [index, id] of refresh.domains.slice(0, done).entries()) {
    detailed[id] = index === refresh.failAt ? FAILURE_TEXT : SUCCESS_TEXT;
  }
  const ended = done === n || at >= stopAt;
  const failed = refresh.abortAt === undefined && refresh.failAt !== undefined && refresh.failAt < done;
  const status = !ended ? 'in_progress' : failed ? 'failed' : 'completed';
  const updated = ended
    ? Math.min(stopAt, refresh.createdAt + n * refresh.stepMs)
    : refresh.createdAt + done * refresh.stepMs;
  return {
    id: refresh.id,
    uri: `kylo:kylo:cckm:synchronize:${refresh.id}`,
    ...OWNER,
    createdAt: iso(refresh.createdAt),
    updatedAt: iso(updated),
    ...(ended ? { completed_at: iso(updated) } : {}),
    overall_status: status,
    detailed_status: detailed,
    cloud: 'dsm',
    domains: refresh.domains,
    abort: refresh.abortAt !== undefined,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
