import type { ActionProgress } from '../types.js';
import { joinText } from './errors.js';

/**
 * The Job resource's `status` words (doc, 10.9.1+) and what they mean for opsbot. Not to be
 * confused with classic ArcGIS Server jobs or geoprocessing's `esriJob…` statuses.
 */
const OUTCOMES: Record<string, ActionProgress['outcome']> = {
  SUBMITTED: 'running',
  EXECUTING: 'running',
  CANCELLING: 'running',
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  // The job store could not answer for now (doc: "transient"); the action counts these.
  UNAVAILABLE: 'running',
};

export interface JobState {
  outcome: ActionProgress['outcome'];
  /** The word is one the doc lists. Unknown words keep the action running, with a warning. */
  known: boolean;
  transient: boolean;
}

export function jobState(status: string): JobState {
  const word = status.toUpperCase();
  const outcome = OUTCOMES[word];
  return { outcome: outcome ?? 'running', known: outcome !== undefined, transient: word === 'UNAVAILABLE' };
}

/**
 * Lines for the final message from the job's opaque `result`: its `status`, `messages` and
 * `error` when present (doc: the result is operation specific).
 */
export function resultLines(result: unknown): string[] {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    return typeof result === 'string' && result.trim() ? [`result: ${joinText(result)}`] : [];
  }
  const { status, messages, error } = result as Record<string, unknown>;
  const lines: string[] = [];
  if (typeof status === 'string' && status.trim()) lines.push(`result status: ${joinText(status)}`);
  for (const message of Array.isArray(messages) ? messages : messages === undefined ? [] : [messages]) {
    const text = joinText(message);
    if (text) lines.push(`message: ${text}`);
  }
  if (error !== undefined && error !== null) {
    const text =
      typeof error === 'object' ? describeError(error as Record<string, unknown>) : joinText(String(error));
    if (text) lines.push(`error: ${text}`);
  }
  return lines.slice(0, 20);
}

function describeError(error: Record<string, unknown>): string {
  const code = error.messageCode ?? error.code;
  const text = joinText(error.message, error.details);
  return code === undefined ? text : `${String(code)} ${text}`.trim();
}
