import type { OpsRequest, TimelineEvent } from '../requests/types.js';
import { plainState, type SlackMessage, section } from './blocks.js';

/** Ephemeral views of stored requests for `/ops status` and `/ops history`, short enough for a phone. */

export function statusMessage(
  request: OpsRequest,
  timeline: TimelineEvent[],
  permalink: string | undefined,
): SlackMessage {
  const lines = [
    `*${request.id}* · *${plainState(request.state)}*`,
    `${request.actionId} on \`${request.vendor}/${request.target}\` · asked by <@${request.requester}>`,
  ];
  if (request.progress?.vendorJobId)
    lines.push(`Vendor job \`${request.progress.vendorJobId}\` · ${request.progress.status}`);
  if (request.outcome) lines.push(request.outcome);
  lines.push('*Timeline*');
  for (const event of timeline.slice(-15)) {
    lines.push(`\`${clock(event.at)}\` ${event.actor ? `<@${event.actor}> ` : ''}${event.text}`);
  }
  if (permalink) lines.push(`<${permalink}|Open the thread>`);
  return section(lines.join('\n'));
}

export function historyMessage(requests: OpsRequest[], scope: string): SlackMessage {
  if (requests.length === 0) return section(`No requests ${scope}.`);
  const lines = [`*Recent requests ${scope}*`];
  for (const request of requests) {
    lines.push(
      `\`${request.id}\` ${plainState(request.state)} · ${request.actionId} \`${request.target}\` · <@${request.requester}> · ${clock(request.createdAt)}`,
    );
  }
  return section(lines.join('\n'));
}

function clock(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
}
