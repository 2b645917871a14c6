import type { RequestStore } from '../requests/store.js';
import { escapeMrkdwn, slackDate } from '../slack/mrkdwn.js';

/** The audit kinds of the calendar's own changes: freezes and sticky locks. */
const CALENDAR_KINDS: ReadonlySet<string> = new Set([
  'freeze',
  'unfreeze',
  'lock',
  'unlock',
  'lock-takeover',
]);

/** How far back in the audit trail `/ops history` looks for them. */
const LOOK_BACK = 500;

/**
 * The latest freezes and locks set, lifted or taken over, newest first, as `/ops history` lines.
 * They belong to no request (and no channel): everyone who may use opsbot sees them.
 */
export async function calendarHistory(store: RequestStore, limit: number): Promise<string[]> {
  const records = await store.auditTrail(LOOK_BACK);
  return records
    .filter((record) => CALENDAR_KINDS.has(record.kind))
    .slice(0, limit)
    .map(
      (record) =>
        `${slackDate(record.at)} · ${record.actor ? `<@${record.actor}> ` : ''}${escapeMrkdwn(record.text)}`,
    );
}
