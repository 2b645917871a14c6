import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { escapeMrkdwn, slackDate } from '../slack/mrkdwn.js';
import type { SlackWriter } from '../slack/writer.js';
import type { Calendar, LockWarningData } from './calendar.js';
import { lockedThing } from './lock-text.js';

/**
 * The `lock-warning` job: tells a sticky lock's holder, in a direct message, that it expires soon
 * and how to keep it. It fires once per lock and end (see Calendar.armWarning); a lock extended,
 * taken over or released since finds nothing to say. A failed post is retried by the job's
 * attempts, like any step.
 */
export function createLockWarner(deps: {
  calendar: Calendar;
  /** The workers' Slack writer: it scrubs secrets from what it sends, as every delivery does. */
  writer: SlackWriter;
  command: string;
  log: Logger;
}) {
  return async (job: Job<LockWarningData>): Promise<void> => {
    const { key, until } = job.data;
    const info = await deps.calendar.locks.info(key);
    if (!info || info.until !== until) return;
    const again = `${deps.command} lock ${info.vendor}.${info.target}${info.resource === undefined ? '' : ` ${info.resource}`} --for 1h --reason "…"`;
    await deps.writer.call('chat.postMessage', {
      channel: info.user,
      text: `:hourglass: Your lock on ${escapeMrkdwn(lockedThing(info))} (“${escapeMrkdwn(info.reason)}”) expires ${slackDate(until)}. To keep it, lock it again: \`${escapeMrkdwn(again)}\``,
    });
    deps.log.info({ user: info.user, lock: key }, 'warned a sticky lock holder before expiry');
  };
}
