import type { OpsRequest, TimelineEvent } from '../requests/types.js';
import { FINAL_STATES } from '../requests/types.js';
import { plainState, retryLines, type SlackMessage, section } from './blocks.js';
import { escapeMrkdwn, slackDate } from './mrkdwn.js';

/** Ephemeral views of stored requests for `/ops status` and `/ops history`, short enough for a phone. */

/** Most timeline lines a status view shows; the landmarks are shown whatever the count. */
const MAX_TIMELINE_LINES = 15;

/** The events that say what happened to a request, beside the routine ones (vendor statuses, calls). */
const LANDMARKS: ReadonlySet<string> = new Set(['requested', 'approved', 'submitted', ...FINAL_STATES]);

export function statusMessage(
  request: OpsRequest,
  timeline: TimelineEvent[],
  permalink: string | undefined,
): SlackMessage {
  const lines = [
    `*${request.id}* · *${plainState(request.state)}*`,
    `${request.actionId} on \`${request.vendor}/${request.target}\` · asked by <@${request.requester}> · ${slackDate(request.createdAt)}`,
  ];
  if (request.progress?.vendorJobId)
    lines.push(
      `Vendor job \`${escapeMrkdwn(request.progress.vendorJobId)}\` · ${escapeMrkdwn(request.progress.status)}`,
    );
  lines.push(...retryLines(request));
  if (request.outcome) lines.push(escapeMrkdwn(request.outcome));
  lines.push('*Timeline*');
  const { shown, left } = timelineToShow(timeline);
  for (const event of shown) {
    lines.push(
      `${slackDate(event.at)} · ${event.actor ? `<@${event.actor}> ` : ''}${escapeMrkdwn(event.text)}`,
    );
  }
  if (left > 0) lines.push(`_… ${left} routine status ${left === 1 ? 'entry' : 'entries'} not shown_`);
  if (permalink) lines.push(`<${permalink}|Open the thread>`);
  return section(lines.join('\n'));
}

/**
 * The timeline entries a status view shows, oldest first: every landmark and every event someone
 * did (approvals, cancels, votes), then the newest routine entries that still fit.
 */
export function timelineToShow(timeline: TimelineEvent[]): { shown: TimelineEvent[]; left: number } {
  const kept = (event: TimelineEvent) => LANDMARKS.has(event.kind) || event.actor !== undefined;
  const room = Math.max(0, MAX_TIMELINE_LINES - timeline.filter(kept).length);
  const routine = timeline.filter((event) => !kept(event));
  const newestRoutine = new Set(room > 0 ? routine.slice(-room) : []);
  const shown = timeline.filter((event) => kept(event) || newestRoutine.has(event));
  return { shown, left: timeline.length - shown.length };
}

/** `calendar`: the latest freezes and sticky locks (src/calendar/history.ts), listed after the requests. */
export function historyMessage(requests: OpsRequest[], scope: string, calendar: string[] = []): SlackMessage {
  const lines = requests.length === 0 ? [`No requests ${scope}.`] : [`*Recent requests ${scope}*`];
  for (const request of requests) {
    const when = request.runAt !== undefined ? ` · :alarm_clock: ${slackDate(request.runAt)}` : '';
    const glass = request.overrides?.length ? ' · :rotating_light: break-glass' : '';
    lines.push(
      `\`${request.id}\` ${plainState(request.state)} · ${request.actionId} \`${request.target}\` · <@${request.requester}> · ${slackDate(request.createdAt)}${when}${glass}`,
    );
  }
  if (calendar.length > 0) lines.push('*Freezes and locks*', ...calendar);
  return section(lines.join('\n'));
}
