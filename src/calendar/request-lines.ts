import type { OpsRequest } from '../requests/types.js';
import { escapeMrkdwn, slackDate } from '../slack/mrkdwn.js';

/**
 * What the root message says of a request's place in the calendar: a break-glass override of a
 * change freeze, and when a scheduled request runs. mrkdwn, from the request's own fields.
 */
export function calendarLines(request: Pick<OpsRequest, 'overrides' | 'runAt' | 'state'>): string[] {
  const lines: string[] = [];
  if (request.overrides?.length)
    lines.push(
      `:rotating_light: *Break-glass* during change freeze ${request.overrides.map((name) => `*${escapeMrkdwn(name)}*`).join(', ')}: its override role must approve too.`,
    );
  if (request.runAt !== undefined && (request.state === 'pending' || request.state === 'approved'))
    lines.push(`:alarm_clock: Scheduled for ${slackDate(request.runAt)}`);
  return lines;
}
