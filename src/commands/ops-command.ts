import type { App } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Job, Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { AuditChainStore } from '../audit/chain-store.js';
import { reportSummary, verifyAuditChain } from '../audit/verify.js';
import { admissionEvents, type Calendar, calendarNotes } from '../calendar/calendar.js';
import { calendarHistory } from '../calendar/history.js';
import type { Config } from '../config/load.js';
import { InputError, toOpsError } from '../errors.js';
import { COMMAND_JOB } from '../jobs/queues.js';
import type { Metrics } from '../observability/metrics.js';
import { whoamiText } from '../policy/whoami-view.js';
import type { RequestLifecycle } from '../requests/lifecycle.js';
import type { Policy } from '../requests/policy.js';
import { type ResourceLocks, resourceOf } from '../requests/resource-lock.js';
import { newRequestId, type RequestStore } from '../requests/store.js';
import { auditVerifyMessage } from '../slack/audit-views.js';
import { dryRunMessage, readAnswerMessage, type SlackMessage, section } from '../slack/blocks.js';
import { escapeMrkdwn } from '../slack/mrkdwn.js';
import { historyMessage, statusMessage } from '../slack/request-views.js';
import { replyPrivately } from '../slack/respond.js';
import type { SlackWriter } from '../slack/writer.js';
import type { VendorClients } from '../vendors/clients.js';
import { findActionById } from '../vendors/registry.js';
import { calendarCommand } from './calendar.js';
import { helpText } from './help.js';
import { type OpsCommand, parseOpsCommand } from './parse.js';
import { reasonRefusal } from './reason.js';

/**
 * The `/ops` slash command, in two halves. The web process records the command as a job and only
 * then acknowledges it (Slack allows 3 s), so an acknowledged command is never lost and the ack
 * path stays as light as Bolt's own; if Redis cannot take it, the person is told at once that
 * nothing was done. A worker then parses it, checks policy and answers: privately (through the
 * response_url) for help, errors, reads and dry runs; with an in-channel approval message
 * (through the outbox) for actions.
 */

/** What the web process records of a slash command; the request id is chosen here, once, so a
 * worker that retries the job after a crash opens the same request rather than a second one. */
export interface QueuedCommand {
  teamId: string;
  userId: string;
  channelId: string;
  text: string;
  triggerId: string | undefined;
  responseUrl: string;
  receivedAt: number;
  requestId: string;
}

export interface OpsCommandIngress {
  command: string;
  commands: Queue;
  log: Logger;
}

const NOT_RECORDED =
  ':warning: opsbot could not record this command (its Redis is not answering), so nothing was done. Try again in a minute.';

/** Slack gives up on an ack after 3 s; past this, the ack goes first and recording goes on. */
const ACK_GUARD_MS = 2_000;

export function registerOpsCommand(app: App, deps: OpsCommandIngress): void {
  app.command(deps.command, async ({ command, ack, respond }) => {
    const queued: QueuedCommand = {
      teamId: command.team_id,
      userId: command.user_id,
      channelId: command.channel_id,
      text: command.text ?? '',
      triggerId: command.trigger_id || undefined,
      responseUrl: command.response_url,
      receivedAt: Date.now(),
      requestId: newRequestId(),
    };
    const recording = deps.commands.add(COMMAND_JOB, queued).then(
      () => true,
      (error: Error) => {
        deps.log.error({ err: error.message }, 'could not record a slash command');
        return false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<'slow'>((resolve) => {
      timer = setTimeout(() => resolve('slow'), ACK_GUARD_MS);
    });
    const first = await Promise.race([recording, guard]);
    clearTimeout(timer);
    if (first === false) {
      await ack({ response_type: 'ephemeral', text: NOT_RECORDED });
      return;
    }
    await ack();
    // Redis was slow: the ack went first. Should recording fail after all, say so privately.
    if (first === 'slow' && !(await recording)) {
      await respond({ response_type: 'ephemeral', text: NOT_RECORDED }).catch((error: Error) =>
        deps.log.warn({ err: error.message }, 'could not answer through response_url'),
      );
    }
  });
}

export interface OpsCommandDeps {
  config: Pick<Config, 'slack' | 'policy'>;
  policy: Policy;
  lifecycle: RequestLifecycle;
  store: RequestStore;
  locks: ResourceLocks;
  auditChain: AuditChainStore;
  clients: VendorClients;
  slack: WebClient;
  /** Posts the command's own messages (DMs to a lock's holder), scrubbed like every delivery. */
  writer: SlackWriter;
  log: Logger;
  metrics: Metrics;
  calendar: Calendar;
}

/** The worker half: handles one recorded command. */
export function createCommandProcessor(deps: OpsCommandDeps) {
  return async (job: Job<QueuedCommand>): Promise<void> => {
    const reply = (message: SlackMessage) => replyPrivately(job.data.responseUrl, message, deps.log);
    await handleOpsCommand(deps, job.data, String(job.id), reply);
  };
}

/** Slack's trigger_id lives 30 minutes; a repeat delivery of one command comes well within that. */
const REPEAT_WINDOW_MS = 30 * 60_000;

/**
 * Whether this command is handled here: the first job that claims its trigger_id, or that same
 * job again after a crash. A repeat delivery from Slack carries the same trigger_id in a new job.
 */
async function firstDelivery(deps: OpsCommandDeps, command: QueuedCommand, jobId: string): Promise<boolean> {
  if (!command.triggerId) return true;
  return deps.store.claimOnce(`slash:${command.teamId}:${command.triggerId}`, REPEAT_WINDOW_MS, jobId);
}

export async function handleOpsCommand(
  deps: OpsCommandDeps,
  command: QueuedCommand,
  jobId: string,
  reply: (message: SlackMessage) => Promise<void>,
): Promise<void> {
  try {
    if (!(await firstDelivery(deps, command, jobId))) {
      deps.log.info({ user: command.userId }, 'slash command delivered again; handled once already');
      return;
    }
    const parsed = parseOpsCommand(command.text, deps.config.slack.command);
    await dispatch(deps, command, parsed, reply);
  } catch (error) {
    const failure = toOpsError(error);
    if (failure.code === 'internal') deps.log.error({ err: error }, 'slash command failed');
    const input = failure instanceof InputError;
    const usage = input && failure.usage ? `\nUsage: \`${failure.usage}\`` : '';
    deps.metrics.requests.inc({ action: 'none', outcome: input ? 'bad_input' : 'error' });
    // An InputError is mrkdwn opsbot composed (what it quotes is escaped already); any other
    // message may carry a vendor's words, which are plain text.
    const message = input ? failure.message : escapeMrkdwn(failure.message);
    await reply(section(`:warning: ${message}${usage}`));
  }
}

async function dispatch(
  deps: OpsCommandDeps,
  command: QueuedCommand,
  parsed: OpsCommand,
  reply: (message: SlackMessage) => Promise<unknown>,
): Promise<void> {
  const user = command.userId;
  const channel = command.channelId;
  const name = deps.config.slack.command;
  if (!deps.policy.channelAllowed(channel)) {
    throw new InputError(
      `${name} is not enabled in this channel; ask an opsbot admin to add it to policy.channels.`,
    );
  }

  switch (parsed.kind) {
    case 'help': {
      const text = await helpText({
        command: name,
        vendor: parsed.vendor,
        mayRequest: async (id) => (await deps.policy.mayRequestHere(user, channel, id)).ok,
        auditor: await deps.policy.isAuditor(user),
      });
      await reply(section([text, ...(await calendarNotes(deps.calendar))].join('\n')));
      return;
    }
    case 'whoami': {
      const explanation = await deps.policy.explain(user, channel, parsed.actionId);
      await reply(
        section(
          [
            whoamiText(explanation, {
              command: name,
              user,
              actionId: parsed.actionId,
              target: parsed.target,
            }),
            ...(await calendarNotes(deps.calendar)),
          ].join('\n'),
        ),
      );
      return;
    }
    case 'audit-verify': {
      // Refused in words rather than as an unknown command: the command is documented, and the
      // refusal is itself worth a record in the trail.
      if (!(await deps.policy.isAuditor(user))) {
        await deps.store.audit({ kind: 'audit-verify', actor: user, text: 'refused: not an auditor' });
        await reply(
          section(
            `:no_entry: \`${name} audit verify\` is for auditors only (\`policy.auditors\`), and you are not one. Nothing was checked.`,
          ),
        );
        return;
      }
      const report = await verifyAuditChain(deps.auditChain);
      if (report.problemCount > 0) deps.metrics.auditVerifyFailures.inc();
      await deps.store.audit({ kind: 'audit-verify', actor: user, text: reportSummary(report) });
      await reply(auditVerifyMessage(report));
      return;
    }
    case 'status': {
      const request = await deps.store.get(parsed.requestId);
      const voters = request?.votes.map((vote) => vote.user) ?? [];
      if (!request || !(await deps.policy.maySee(request, user, channel, voters))) {
        throw new InputError(`no request ${parsed.requestId} that you may see`);
      }
      const permalink = request.rootTs
        ? await deps.slack.chat
            .getPermalink({ channel: request.channel, message_ts: request.rootTs })
            .then((answer) => answer.permalink)
            .catch(() => undefined)
        : undefined;
      await reply(statusMessage(request, await deps.store.timeline(request.id), permalink));
      return;
    }
    case 'history': {
      // Only this channel's own requests are listed, and anyone who may use opsbot here sees those.
      const recent = await deps.store.recentInChannel(channel, 200);
      const shown = recent
        .filter((r) => !parsed.mine || r.requester === user)
        .filter((r) => !parsed.target || r.target === parsed.target)
        .slice(0, parsed.limit);
      const calendar = parsed.mine || parsed.target ? [] : await calendarHistory(deps.store, 5);
      await reply(
        historyMessage(shown, parsed.mine ? 'of yours in this channel' : 'in this channel', calendar),
      );
      return;
    }
    case 'calendar':
      return calendarCommand(deps, command, parsed, reply);
    case 'cancel': {
      const request = await deps.store.get(parsed.requestId);
      if (request?.state === 'approved' || request?.state === 'running') {
        const canVendorCancel = Boolean(findActionById(request.actionId)?.action.cancel);
        const decision = await deps.lifecycle.stopInFlight(
          parsed.requestId,
          user,
          canVendorCancel,
          parsed.reason,
        );
        await reply(
          section(
            decision.ok
              ? `Asked to cancel \`${parsed.requestId}\`; the thread shows what happens.`
              : `:warning: ${decision.reason}`,
          ),
        );
        return;
      }
      const decision = await deps.lifecycle.withdraw(parsed.requestId, user, undefined, parsed.reason);
      await reply(
        section(decision.ok ? `Request \`${parsed.requestId}\` cancelled.` : `:warning: ${decision.reason}`),
      );
      return;
    }
    case 'action': {
      const { vendor, action } = parsed;
      const notAllowed = (where: string, reason: string) => {
        deps.metrics.requests.inc({ action: action.id, outcome: 'not_allowed' });
        return new InputError(
          `you are not allowed to request ${action.id}${where} here: ${reason}. \`${name} whoami ${action.id}\` explains.`,
        );
      };
      // Anyone with no target open to them here hears that first, not which targets exist.
      const anyTarget = await deps.policy.mayRequestHere(user, channel, action.id);
      if (!anyTarget.ok) throw notAllowed('', anyTarget.reason);
      const target = deps.clients.resolveTarget(vendor.name, parsed.target);
      const onTarget = await deps.policy.mayRequestHere(user, channel, action.id, target);
      if (!onTarget.ok) throw notAllowed(` on ${vendor.name}/${target}`, onTarget.reason);
      const context = () => ({ client: deps.clients.get(vendor.name, target), target, log: deps.log });
      if (action.mode === 'read') {
        await reply(readAnswerMessage(await action.read!(context(), parsed.args)));
        return;
      }
      if (parsed.dryRun) {
        if (!action.dryRun) throw new InputError(`${action.id} has no dry run`);
        await reply(
          dryRunMessage(action.id, `${vendor.name}/${target}`, await action.dryRun(context(), parsed.args)),
        );
        return;
      }
      const policy = deps.policy.effective(action.id, target)!;
      const unreasoned = reasonRefusal(
        policy.reason,
        parsed.reason,
        `${action.id} on ${vendor.name}/${target}`,
        (reason) => `${name} ${action.examples[0] ?? `${vendor.name} ${action.verb}`} --reason ${reason}`,
      );
      if (unreasoned) throw new InputError(`${unreasoned}. Nothing was requested.`);
      const approvable = await deps.policy.feasible(policy, user);
      if (!approvable.ok) {
        deps.metrics.requests.inc({ action: action.id, outcome: 'not_allowed' });
        throw new InputError(
          `${action.id} on ${vendor.name}/${target} could never be approved: ${approvable.reason}. Nothing was requested; an opsbot admin can change the approval rules.`,
        );
      }
      const now = command.receivedAt;
      const when = await deps.calendar.admit(
        { vendor: vendor.name, target, actionId: action.id },
        {
          requester: user,
          args: parsed.args,
          at: parsed.at,
          zone: deps.calendar.zoneOf(channel),
          override: parsed.override,
          reason: parsed.reason,
          policy,
        },
        now,
      );
      const summary = action.describe(parsed.args);
      const busy = await busyNote(
        deps,
        { vendor: vendor.name, target },
        resourceOf(action, parsed.args),
        policy.whenBusy,
      );
      if (busy) summary.warnings.push(busy);
      await deps.lifecycle.open(command.requestId, {
        actionId: action.id,
        vendor: vendor.name,
        target,
        args: parsed.args,
        summary,
        channel,
        requester: user,
        createdAt: now,
        // A scheduled request must be approved by its time at the latest.
        expiresAt: Math.min(now + deps.config.policy.approvalTimeout, when.runAt ?? Number.POSITIVE_INFINITY),
        highRisk: policy.highRisk,
        quorum: when.quorum,
        reason: parsed.reason,
        overrides: when.overrides,
        runAt: when.runAt,
        responseUrl: command.responseUrl,
      });
      for (const event of admissionEvents(user, when, parsed.reason))
        await deps.store.addEvent(command.requestId, event);
      return;
    }
  }
}

/**
 * Says up front when another request is already working on the same resource. It is a summary
 * warning, which is plain text: it names the other request by id (`/ops status` tells who asked),
 * never with a mention.
 */
async function busyNote(
  deps: OpsCommandDeps,
  where: { vendor: string; target: string },
  resource: string,
  whenBusy: 'wait' | 'refuse',
): Promise<string | undefined> {
  const holder = await deps.locks.runningOn(deps.locks.key(where, resource));
  if (!holder) return undefined;
  return `\`${holder}\` is already working on \`${resource}\`: this request will ${whenBusy === 'wait' ? 'wait for it to end' : 'be refused if it is still running'}.`;
}
