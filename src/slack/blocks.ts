import type { KnownBlock } from '@slack/types';
import type { OpsRequest, RequestState } from '../requests/types.js';
import type { ActionProgress, DryRunReport, ReadAnswer } from '../vendors/types.js';

/**
 * Block Kit builders: plain data in, Slack message out. No I/O, so every message can be read
 * and tested on its own.
 */

export const APPROVE_ACTION = 'ops_approve';
export const CANCEL_ACTION = 'ops_cancel';

export interface SlackMessage {
  text: string;
  blocks?: KnownBlock[];
}

const STATE_LINE: Record<RequestState, (r: OpsRequest) => string> = {
  pending: (r) => `:hourglass_flowing_sand: *Waiting for approval* · expires ${slackTime(r.expiresAt)}`,
  approved: (r) => `:white_check_mark: *Approved* by <@${r.approver}> · queued`,
  running: (r) =>
    `:arrows_counterclockwise: *Running* · approved by <@${r.approver}>${r.progress ? ` · ${r.progress.status}` : ''}`,
  succeeded: (r) => `:large_green_circle: *Succeeded* in ${formatDuration(r)} · approved by <@${r.approver}>`,
  failed: (r) =>
    `:red_circle: *Failed*${r.approver ? ` · approved by <@${r.approver}>` : ''}${r.outcome ? ` · ${r.outcome}` : ''}`,
  cancelled: (r) => `:no_entry_sign: *Cancelled* by ${r.cancelledBy ? `<@${r.cancelledBy}>` : 'opsbot'}`,
  expired: () => `:alarm_clock: *Expired* · nobody approved it in time`,
  timed_out: (r) => `:warning: *Timed out waiting*${r.outcome ? ` · ${r.outcome}` : ''}`,
  unknown: (r) => `:grey_question: *Outcome unknown*${r.outcome ? ` · ${r.outcome}` : ''}`,
};

/** The thread root: what, where, who, and the current state at a glance. */
export function rootMessage(request: OpsRequest, command: string): SlackMessage {
  const title = `*${request.actionId}* on \`${request.vendor}/${request.target}\``;
  const stateLine = STATE_LINE[request.state](request);
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `${title}\nrequested by <@${request.requester}>` } },
  ];
  const fields = request.summary.fields.slice(0, 10).map((field) => ({
    type: 'mrkdwn' as const,
    text: truncate(`*${field.label}*\n${field.value}`, 2000),
  }));
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  for (const warning of request.summary.warnings.slice(0, 5)) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`:warning: ${warning}`, 3000) } });
  }
  if (request.highRisk && request.state === 'pending') {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: ':lock: High-risk: a second person must approve.' }],
    });
  }
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: stateLine } });
  if (request.state === 'pending') blocks.push(approvalButtons(request));
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `\`${request.id}\` · \`${command} status ${request.id}\`` }],
  });
  return {
    text: `${request.actionId} on ${request.vendor}/${request.target}: ${plainState(request.state)}`,
    blocks,
  };
}

function approvalButtons(request: OpsRequest): KnownBlock {
  return {
    type: 'actions',
    block_id: `approval:${request.id}`,
    elements: [
      {
        type: 'button',
        action_id: APPROVE_ACTION,
        text: { type: 'plain_text', text: 'Approve' },
        style: 'primary',
        value: request.id,
        ...(request.highRisk
          ? {
              confirm: {
                title: { type: 'plain_text', text: 'Run a high-risk action?' },
                text: {
                  type: 'mrkdwn',
                  text: truncate(
                    `You are approving *${request.actionId}* on \`${request.vendor}/${request.target}\`.\n${request.summary.warnings.join('\n')}`,
                    300,
                  ),
                },
                confirm: { type: 'plain_text', text: 'Approve and run' },
                deny: { type: 'plain_text', text: 'Back' },
                style: 'danger' as const,
              },
            }
          : {}),
      },
      {
        type: 'button',
        action_id: CANCEL_ACTION,
        text: { type: 'plain_text', text: 'Cancel' },
        value: request.id,
      },
    ],
  };
}

/** A threaded reply for one change of state. */
export function progressReply(request: OpsRequest, progress: ActionProgress, first: boolean): SlackMessage {
  const head = first
    ? `:rocket: Submitted to ${request.vendor}/${request.target}${progress.vendorJobId ? ` · job \`${progress.vendorJobId}\`` : ''}`
    : `:arrows_counterclockwise: Status *${progress.status}*`;
  const lines = [head];
  if (first) lines.push(`Status *${progress.status}*`);
  if (progress.detail) lines.push(progress.detail);
  for (const note of progress.notes ?? []) lines.push(`:warning: ${note}`);
  return section(lines.join('\n'));
}

/** The closing reply: how it ended, how long it took and what the vendor said. */
export function finalReply(request: OpsRequest): SlackMessage {
  const progress = request.progress;
  const head: Record<string, string> = {
    succeeded: `:large_green_circle: *Succeeded* in ${formatDuration(request)}`,
    failed: `:red_circle: *Failed* after ${formatDuration(request)}`,
    cancelled: `:no_entry_sign: *Cancelled* after ${formatDuration(request)}`,
    timed_out: `:warning: *Timed out waiting* after ${formatDuration(request)}`,
    unknown: `:grey_question: *Outcome unknown*`,
  };
  const lines = [head[request.state] ?? `*${request.state}*`];
  if (request.outcome) lines.push(request.outcome);
  if (progress?.vendorJobId)
    lines.push(`Vendor job \`${progress.vendorJobId}\`, last status *${progress.status}*`);
  for (const line of progress?.result ?? []) lines.push(`• ${line}`);
  return section(lines.join('\n'));
}

export function failureBroadcastText(request: OpsRequest): string {
  return `:red_circle: ${request.actionId} on ${request.vendor}/${request.target} (${request.id}) ended *${plainState(request.state)}*${request.outcome ? `: ${request.outcome}` : ''}`;
}

export function dryRunMessage(actionId: string, target: string, report: DryRunReport): SlackMessage {
  const lines = [
    `*Dry run* of *${actionId}* on \`${target}\` — nothing was changed.`,
    `Would call: \`${report.call}\``,
  ];
  if (report.currentState.length > 0) lines.push('*Now:*', ...report.currentState.map((line) => `• ${line}`));
  return section(lines.join('\n'));
}

export function readAnswerMessage(answer: ReadAnswer): SlackMessage {
  const lines = [`*${answer.title}*`, ...answer.lines];
  if (answer.footer) lines.push(`_${answer.footer}_`);
  return section(lines.join('\n'));
}

export function section(text: string): SlackMessage {
  const safe = truncate(text, 3000);
  return { text: truncate(text, 3900), blocks: [{ type: 'section', text: { type: 'mrkdwn', text: safe } }] };
}

export function plainState(state: RequestState): string {
  return state.replace('_', ' ');
}

function slackTime(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `<!date^${seconds}^{time}|${new Date(ms).toISOString().slice(11, 16)} UTC>`;
}

export function formatDuration(request: OpsRequest): string {
  const ms =
    (request.finishedAt ?? Date.now()) - (request.startedAt ?? request.decidedAt ?? request.createdAt);
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
