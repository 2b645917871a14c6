import { escapeMrkdwn, slackDate } from '../slack/mrkdwn.js';
import type { LockInfo } from './locks.js';
import { plainInstant, shortDuration } from './time.js';

/**
 * A sticky lock in words, as anyone who hits it reads it: what, held by whom, for how long
 * already, why and until when. mrkdwn for answers opsbot composes; plain text for what is stored
 * and escaped when shown (a request's `blocked` reason, the audit trail).
 */

export function lockedThing(info: Pick<LockInfo, 'vendor' | 'target' | 'resource'>): string {
  const target = `${info.vendor}/${info.target}`;
  return info.resource === undefined ? `all of ${target}` : `${info.resource} on ${target}`;
}

export function lockMrkdwn(info: LockInfo, now: number): string {
  return `:lock: ${escapeMrkdwn(lockedThing(info))} is locked by <@${info.user}> (for ${shortDuration(now - info.since)}, until ${slackDate(info.until)}): “${escapeMrkdwn(info.reason)}”`;
}

export function lockPlain(info: LockInfo, now: number): string {
  return `${lockedThing(info)} is locked by user ${info.user} (for ${shortDuration(now - info.since)}, until ${plainInstant(info.until)}): ${info.reason}`;
}
