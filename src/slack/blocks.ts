import type { KnownBlock } from '@slack/types';
import { calendarLines } from '../calendar/request-lines.js';
import { type Audience, roleLabel } from '../policy/model.js';
import { describeTally, tally } from '../policy/quorum.js';
import type { OpsRequest, RequestState } from '../requests/types.js';
import type { ActionProgress, DryRunReport, ReadAnswer } from '../vendors/types.js';
import { clipMrkdwn, escapeMrkdwn, plainLine, slackDate } from './mrkdwn.js';

/**
 * Block Kit builders: plain data in, Slack message out. No I/O, so every message can be read
 * and tested on its own. Vendor and user text reaches them as plain text and is escaped here, as
 * it is rendered (see mrkdwn.ts for the convention).
 */

export const APPROVE_ACTION = 'ops_approve';
/** Reject and Cancel open a modal asking why (commands/reason-buttons.ts). */
export const REJECT_ACTION = 'ops_reject';
export const CANCEL_ACTION = 'ops_cancel';

export interface SlackMessage {
  text: string;
  blocks?: KnownBlock[];
}

/**
 * The root's state line. Green and ✅-like marks belong to success alone: approval is a neutral
 * blue, since nothing has run yet.
 */
const STATE_LINE: Record<RequestState, (r: OpsRequest) => string> = {
  pending: (r) => `:hourglass_flowing_sand: *Waiting for approval* · expires ${slackDate(r.expiresAt)}`,
  approved: (r) => `:large_blue_circle: *Approved* by ${approvedBy(r)} · queued to run`,
  running: (r) =>
    `:arrows_counterclockwise: *Running* · approved by ${approvedBy(r)}${r.progress ? ` · ${escapeMrkdwn(r.progress.status)}` : ''}`,
  succeeded: (r) => `:large_green_circle: *Succeeded* in ${formatDuration(r)} · approved by ${approvedBy(r)}`,
  failed: (r) => `:red_circle: *Failed*${r.approver ? ` · approved by ${approvedBy(r)}` : ''}${outcomeOf(r)}`,
  cancelled: (r) =>
    `:no_entry_sign: *Cancelled* by ${r.cancelledBy ? `<@${r.cancelledBy}>` : 'opsbot'}${reasonOf(r)}`,
  rejected: (r) => `:no_entry: *Rejected* by <@${r.rejectedBy}>${reasonOf(r)}`,
  expired: () => `:alarm_clock: *Expired* · nobody approved it in time`,
  timed_out: (r) => `:warning: *Timed out waiting*${outcomeOf(r)}`,
  unknown: (r) => `:grey_question: *Outcome unknown*${outcomeOf(r)}`,
};

/** Everyone whose approval counted, in the order they came (the one who met the quorum last). */
function approvedBy(request: OpsRequest): string {
  const voters = request.votes.map((vote) => vote.user);
  const people = voters.length > 0 ? voters : request.approver ? [request.approver] : [];
  return people.map((user) => `<@${user}>`).join(', ') || 'opsbot';
}

function reasonOf(request: OpsRequest): string {
  return request.decisionReason ? ` · “${escapeMrkdwn(request.decisionReason)}”` : '';
}

/**
 * While it waits, how far its approvals are: "1 of 2 · still needs @security" (only where more
 * than one approval is needed, or some came in), and why the last approval was refused, if it was.
 */
function pendingLines(request: OpsRequest): string[] {
  if (request.state !== 'pending') return [];
  const lines: string[] = [];
  const rules = request.quorum?.rules;
  if (rules && (rules.length > 1 || rules.some((rule) => rule.count > 1) || request.votes.length > 0)) {
    lines.push(`:ballot_box_with_ballot: Approvals: ${describeTally(tally(rules, request.votes))}`);
  }
  if (request.blocked) lines.push(`:warning: Approval refused: ${escapeMrkdwn(request.blocked)}`);
  return lines;
}

/**
 * While a vendor call is tried again after a transient fault (a 5xx, a timeout, a busy server),
 * which try it is and what the vendor said; gone once a call succeeds. The root shows it, and so
 * does `/ops status`.
 */
export function retryLines(request: OpsRequest): string[] {
  if (request.state !== 'running' || !request.retrying) return [];
  return [clipMrkdwn(`:repeat: ${escapeMrkdwn(request.retrying)}`, RETRY_LINE_MAX)];
}
/** Enough for the try and the vendor's sentence (vendor clients clip what a vendor says to ~300). */
const RETRY_LINE_MAX = 300;

function outcomeOf(request: OpsRequest): string {
  return request.outcome ? ` · ${escapeMrkdwn(request.outcome)}` : '';
}

/** The thread root: what, where, who, and the current state at a glance. */
export function rootMessage(request: OpsRequest, command: string): SlackMessage {
  const title = `*${request.actionId}* on \`${request.vendor}/${request.target}\``;
  const stateLine = STATE_LINE[request.state](request);
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `${title}\nrequested by <@${request.requester}>` } },
  ];
  const fields = request.summary.fields.slice(0, 10).map((field) => ({
    type: 'mrkdwn' as const,
    text: clipMrkdwn(`*${escapeMrkdwn(field.label)}*\n${escapeMrkdwn(field.value)}`, 2000),
  }));
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  for (const warning of request.summary.warnings.slice(0, 5)) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: clipMrkdwn(`:warning: ${escapeMrkdwn(warning)}`, 3000) },
    });
  }
  if (request.highRisk && request.state === 'pending') {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: ':lock: High-risk: a second person must approve.' }],
    });
  }
  if (request.reason) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: clipMrkdwn(`*Reason*\n${escapeMrkdwn(request.reason)}`, 3000) },
    });
  }
  const when = calendarLines(request);
  if (when.length > 0) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: when.join('\n') } });
  blocks.push({
    type: 'section',
    text: { type: 'mrkdwn', text: [stateLine, ...pendingLines(request), ...retryLines(request)].join('\n') },
  });
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
                  text: clipMrkdwn(
                    `You are approving *${request.actionId}* on \`${request.vendor}/${request.target}\`.\n${request.summary.warnings.map(escapeMrkdwn).join('\n')}`,
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
        action_id: REJECT_ACTION,
        text: { type: 'plain_text', text: 'Reject' },
        style: 'danger',
        value: request.id,
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

/** A threaded reply for one change of state. Notes are the vendor's warnings, so they carry ⚠️. */
export function progressReply(request: OpsRequest, progress: ActionProgress, first: boolean): SlackMessage {
  const status = `Status *${escapeMrkdwn(progress.status)}*`;
  const lines = first
    ? [
        `:rocket: Submitted to ${request.vendor}/${request.target}${progress.vendorJobId ? ` · job \`${escapeMrkdwn(progress.vendorJobId)}\`` : ''}`,
        status,
      ]
    : [`:arrows_counterclockwise: ${status}`];
  if (progress.detail) lines.push(escapeMrkdwn(progress.detail));
  for (const note of progress.notes ?? []) lines.push(`:warning: ${escapeMrkdwn(note)}`);
  return section(lines.join('\n'));
}

/**
 * The closing reply: how it ended, how long it took and what the vendor said. The vendor's last
 * status is said once, and only when the vendor had not ended the work itself (opsbot stopped
 * waiting or following it): after a vendor's own end, its result lines say how it went.
 */
export function finalReply(request: OpsRequest): SlackMessage {
  const progress = request.progress;
  const head: Record<string, string> = {
    succeeded: `:large_green_circle: *Succeeded* in ${formatDuration(request)}`,
    failed: `:red_circle: *Failed* after ${formatDuration(request)}`,
    cancelled: `:no_entry_sign: *Cancelled* after ${formatDuration(request)}`,
    timed_out: `:warning: *Timed out waiting* after ${formatDuration(request)}`,
    unknown: `:grey_question: *Outcome unknown*`,
  };
  const lines = [head[request.state] ?? `*${plainState(request.state)}*`];
  if (request.outcome) lines.push(escapeMrkdwn(request.outcome));
  if (progress?.vendorJobId) lines.push(`Vendor job \`${escapeMrkdwn(progress.vendorJobId)}\``);
  if (progress?.outcome === 'running') {
    const detail = progress.detail ? ` · ${escapeMrkdwn(progress.detail)}` : '';
    lines.push(`Last status from ${request.vendor}: *${escapeMrkdwn(progress.status)}*${detail}`);
  }
  for (const line of progress?.result ?? []) lines.push(`• ${plainLine(line)}`);
  return section(lines.join('\n'));
}

/** The closing reply's `text` when it is also shown in the channel (Slack parses it as mrkdwn too). */
export function failureBroadcastText(request: OpsRequest): string {
  return `:red_circle: ${request.actionId} on ${request.vendor}/${request.target} (${request.id}) ended *${plainState(request.state)}*${request.outcome ? `: ${escapeMrkdwn(request.outcome)}` : ''}`;
}

export function dryRunMessage(actionId: string, target: string, report: DryRunReport): SlackMessage {
  const lines = [
    `*Dry run* of *${actionId}* on \`${target}\` — nothing was changed.`,
    `Would call: \`${escapeMrkdwn(report.call)}\``,
  ];
  if (report.currentState.length > 0)
    lines.push('*Now:*', ...report.currentState.map((line) => `• ${plainLine(line)}`));
  return section(lines.join('\n'));
}

export function readAnswerMessage(answer: ReadAnswer): SlackMessage {
  const lines = [`*${escapeMrkdwn(answer.title)}*`, ...answer.lines.map(plainLine)];
  if (answer.footer) lines.push(`_${escapeMrkdwn(answer.footer)}_`);
  return section(lines.join('\n'));
}

/** One section of mrkdwn opsbot composed (every piece of vendor or user text in it escaped). */
export function section(text: string): SlackMessage {
  const safe = clipMrkdwn(text, 3000);
  return {
    text: clipMrkdwn(text, 3900),
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: safe } }],
  };
}

export function plainState(state: RequestState): string {
  return state.replace('_', ' ');
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

/**
 * The reminder while a request waits: how far its approvals are, and a mention of everyone who
 * could still meet the rules short of approvals (their user groups, and the people listed by id,
 * less those who approved already and a requester whose approval does not count). Undefined when
 * nothing is missing (the quorum is met, or the request has no rules to count against).
 */
export function reminderReply(request: OpsRequest): SlackMessage | undefined {
  const quorum = request.quorum;
  if (!quorum) return undefined;
  const result = tally(quorum.rules, request.votes);
  if (result.met) return undefined;
  const leftOut = new Set(request.votes.map((vote) => vote.user));
  if (!quorum.requesterCounts) leftOut.add(request.requester);
  const lines = [
    `:bell: *Reminder*: still waiting for approval · ${describeTally(result)} · expires ${slackDate(request.expiresAt)}`,
  ];
  quorum.rules.forEach((rule, i) => {
    const short = result.perRule[i]!.have < rule.count;
    const people = short ? mentions(rule.audience, leftOut) : '';
    if (people) lines.push(`${escapeMrkdwn(rule.label)}: ${people}`);
  });
  return section(lines.join('\n'));
}

/**
 * The escalation, later in the window: the request still waits, and the people it escalates to
 * are asked to find an approver. Undefined when nothing is missing any more, or it has no one to
 * escalate to.
 */
export function escalationReply(request: OpsRequest): SlackMessage | undefined {
  const to = request.followUp?.escalation?.to;
  if (!request.quorum || !to) return undefined;
  const result = tally(request.quorum.rules, request.votes);
  if (result.met) return undefined;
  const named = to.filter((role) => role.declared).map(roleLabel);
  return section(
    [
      `:rotating_light: *Escalation*: still waiting for approval · ${describeTally(result)} · expires ${slackDate(request.expiresAt)}`,
      `${named.length > 0 ? `${escapeMrkdwn(named.join(', '))}: ` : ''}${mentions(to, new Set())} please find an approver, or approve it if you may.`,
    ].join('\n'),
  );
}

/** Mentions of an audience: its user groups, then its users (not `*`, not those left out). */
function mentions(audience: Audience, leftOut: ReadonlySet<string>): string {
  const groups = audience.flatMap((role) => role.groups).map((group) => `<!subteam^${group}>`);
  const users = audience
    .flatMap((role) => role.users)
    .filter((user) => user !== '*' && !leftOut.has(user))
    .map((user) => `<@${user}>`);
  return [...new Set([...groups, ...users])].join(' ');
}

/**
 * The requester's DM for where the request stands: approved (it runs now), or how it ended
 * (rejected, expired, or the run's end), in the words of the root's state line. It names the
 * request and its channel, where the thread tells the rest.
 */
export function requesterDmMessage(request: OpsRequest): SlackMessage {
  const stateLine = STATE_LINE[request.state](request);
  return {
    ...section(
      `Your request *${request.actionId}* on \`${request.vendor}/${request.target}\` (\`${request.id}\` in <#${request.channel}>)\n${stateLine}`,
    ),
    text: `Your request ${request.actionId} on ${request.vendor}/${request.target} (${request.id}): ${plainState(request.state)}`,
  };
}
