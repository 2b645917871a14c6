import { Queue } from 'bullmq';
import { request } from 'undici';
import { ACTIONS_QUEUE } from '../src/jobs/queues.js';
import { section } from '../src/slack/blocks.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../src/vendors/arcgis/simulator.js';
import { BASELINE_QUEUE, type BaselineJob } from './lib/baseline.js';
import { REFRESH_ACTION, requestAndApprove, startBot, statusChangesPerAction, UNPACED } from './lib/bot.js';
import type { BenchContext, SectionResult } from './lib/context.js';
import { closedLoop, until } from './lib/load.js';
import { startChild } from './lib/processes.js';
import { commandCalls, commandMix, commandsProcessed, deletePrefix, freshPrefix } from './lib/redis.js';
import { BENCH_SLACK, CHANNEL, SlackWatch, startBenchSlack, writeCalls } from './lib/slack.js';
import { median, ratio } from './lib/stats.js';

/**
 * Pipeline throughput: N approved refreshes (submit, three polls, final) against the ArcGIS
 * simulator with no artificial delay, through opsbot vs through bare BullMQ steps + undici.
 *
 * Both sides get the same backlog before the clock starts: the approval messages are posted and
 * the actions are approved (opsbot: through its real path, signed slash commands and clicks, with
 * its actions queue paused; baseline: roots posted directly and jobs added to a paused queue).
 * The clock starts when the queue is resumed and stops when the last root message shows success.
 */

const POLL_MS = 5;
const CONCURRENCY = 50;
/** Statuses each refresh goes through: SUBMITTED, one more SUBMITTED read, EXECUTING, COMPLETED. */
const JOB_SCRIPT = { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } } as const;

interface PipelineRun {
  actions: number;
  seconds: number;
  perSecond: number;
  /** chat.postMessage + chat.update calls per action, approval message and approval update included. */
  slackWritesPerAction: number;
  /** Status changes per action, from the request timelines (approved, submitted, each new status). */
  statusChangesPerAction?: number;
  tokensMinted: number;
  vendorCallsPerAction: number;
  /** CPU time of the process doing the work (bot or baseline worker) per action, in the timed window. */
  cpuMsPerAction: number;
  /** Redis commands per action in the timed window (everything on this Redis, setup excluded). */
  redisCommandsPerAction: number;
  /** Calls per action of each Redis command, those inside scripts included (diagnostic). */
  redisCommandMix: Record<string, number>;
  logErrors?: number;
  logWarnings?: number;
  logSamples?: string[];
}

export interface PipelineResult extends SectionResult {
  /** For the economy section: the figures it reports from these runs. */
  economy: { bot: PipelineRun[]; baseline: PipelineRun[] };
}

async function simulator(count: number): Promise<{ arcgis: ArcgisSimulator; deployments: string[] }> {
  const arcgis = await startArcgisSimulator({ job: JOB_SCRIPT });
  const deployments = Array.from({ length: count }, () => arcgis.addDeployment().deploymentId);
  return { arcgis, deployments };
}

async function runBot(ctx: BenchContext, count: number, childrenDir?: string): Promise<PipelineRun> {
  const { arcgis, deployments } = await simulator(count);
  const slack = await startBenchSlack();
  const watch = new SlackWatch(slack);
  const prefix = freshPrefix('pipeline');
  // Without skipMetasUpdate it would reset the queue's settings (its event stream length) to
  // BullMQ's defaults.
  const actions = new Queue(ACTIONS_QUEUE, { connection: ctx.redis.client, prefix, skipMetasUpdate: true });
  await actions.pause();
  const bot = await startBot({
    slackApiUrl: slack.apiUrl,
    redisUrl: ctx.redis.url,
    prefix,
    arcgis,
    pacing: UNPACED,
    timing: { pollInterval: `${POLL_MS}ms`, firstPollDelay: `${POLL_MS}ms` },
    childrenDir,
  });
  try {
    const roots = await requestAndApprove(bot.peer, watch, deployments, 32);
    const minted = arcgis.counters.tokensMinted;
    const vendorCalls = arcgis.requests.length;
    const cpu = bot.child.cpuMs();
    const commands = await commandsProcessed(ctx.redis.client);
    const calls = await commandCalls(ctx.redis.client);

    const started = Date.now();
    await actions.resume();
    await until(() => watch.finished.size === count, `${count} finished refreshes`, 600_000, 10);
    const seconds = (Math.max(...watch.finished.values()) - started) / 1000;
    const cpuMsPerAction = (bot.child.cpuMs() - cpu) / count;
    const redisCommandsPerAction = ((await commandsProcessed(ctx.redis.client)) - commands) / count;
    const redisCommandMix = commandMix(calls, await commandCalls(ctx.redis.client), count);

    const statusChanges = await statusChangesPerAction(
      ctx.redis.client,
      prefix,
      roots.map((root) => root.requestId),
    );
    const log = await bot.stop();
    return {
      actions: count,
      seconds,
      perSecond: count / seconds,
      slackWritesPerAction: writeCalls(slack).attempts / count,
      statusChangesPerAction: statusChanges,
      tokensMinted: arcgis.counters.tokensMinted - minted,
      vendorCallsPerAction: (arcgis.requests.length - vendorCalls) / count,
      cpuMsPerAction,
      redisCommandsPerAction,
      redisCommandMix,
      logErrors: log.errors,
      logWarnings: log.warnings,
      logSamples: log.samples,
    };
  } finally {
    await bot.stop();
    await actions.close();
    watch.close();
    await Promise.all([slack.close(), arcgis.close()]);
    await deletePrefix(ctx.redis.client, prefix);
  }
}

async function runBaseline(ctx: BenchContext, count: number): Promise<PipelineRun> {
  const { arcgis, deployments } = await simulator(count);
  const slack = await startBenchSlack();
  const watch = new SlackWatch(slack);
  const prefix = freshPrefix('baseline');
  const queue = new Queue<BaselineJob>(BASELINE_QUEUE, { connection: ctx.redis.client, prefix });
  await queue.pause();
  const roots: string[] = [];
  await closedLoop(count, 32, async (i) => {
    const response = await request(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_SLACK.botToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        channel: CHANNEL,
        ...section(`*${REFRESH_ACTION}* on \`arcgis/prod\` · deployment ${deployments[i]}`),
        metadata: { event_type: 'baseline', event_payload: { request_id: `b-${i}` } },
      }),
    });
    roots[i] = ((await response.body.json()) as { ts: string }).ts;
  });
  await queue.addBulk(
    deployments.map((deploymentId, i) => ({
      name: 'refresh',
      data: {
        requestId: `b-${i}`,
        deploymentId,
        channel: CHANNEL,
        rootTs: roots[i]!,
        phase: 'submit' as const,
      },
    })),
  );
  const worker = await startChild('baseline-worker', {
    type: 'start',
    redisUrl: ctx.redis.url,
    prefix,
    concurrency: CONCURRENCY,
    pollIntervalMs: POLL_MS,
    slackApiUrl: slack.apiUrl,
    botToken: BENCH_SLACK.botToken,
    arcgis: { url: arcgis.url, username: arcgis.username, password: arcgis.password },
  });
  try {
    const vendorCalls = arcgis.requests.length;
    const cpu = worker.cpuMs();
    const commands = await commandsProcessed(ctx.redis.client);
    const calls = await commandCalls(ctx.redis.client);
    const started = Date.now();
    await queue.resume();
    await until(() => watch.finished.size === count, `${count} finished baseline refreshes`, 600_000, 10);
    const seconds = (Math.max(...watch.finished.values()) - started) / 1000;
    const cpuMsPerAction = (worker.cpuMs() - cpu) / count;
    const redisCommandsPerAction = ((await commandsProcessed(ctx.redis.client)) - commands) / count;
    const redisCommandMix = commandMix(calls, await commandCalls(ctx.redis.client), count);
    return {
      actions: count,
      seconds,
      perSecond: count / seconds,
      slackWritesPerAction: writeCalls(slack).attempts / count,
      tokensMinted: arcgis.counters.tokensMinted,
      vendorCallsPerAction: (arcgis.requests.length - vendorCalls) / count,
      cpuMsPerAction,
      redisCommandsPerAction,
      redisCommandMix,
    };
  } finally {
    await worker.stop();
    await queue.close();
    watch.close();
    await Promise.all([slack.close(), arcgis.close()]);
    await deletePrefix(ctx.redis.client, prefix);
  }
}

export async function measurePipeline(ctx: BenchContext): Promise<PipelineResult> {
  const count = ctx.quick ? 200 : 1000;
  const bot: PipelineRun[] = [];
  const baseline: PipelineRun[] = [];
  /** The other build's bot (`--compare`), when asked for. */
  const other: PipelineRun[] = [];
  // Five rounds in a full run: each is short, and this figure swings most with the machine's noise.
  const rounds = ctx.quick ? ctx.runs : Math.max(ctx.runs, 5);
  for (let run = 0; run < rounds; run += 1) {
    // Alternate which goes first, so drift (caches, other load) does not favour one side.
    const order = run % 2 === 0 ? ['baseline', 'bot'] : ['bot', 'baseline'];
    // The other build runs next to this one, alternating which of the two goes first.
    if (ctx.compare) order.splice(order.indexOf('bot') + (run % 4 < 2 ? 0 : 1), 0, 'other');
    for (const side of order) {
      const result =
        side === 'baseline'
          ? await runBaseline(ctx, count)
          : await runBot(ctx, count, side === 'other' ? ctx.compare : undefined);
      (side === 'bot' ? bot : side === 'other' ? other : baseline).push(result);
      ctx.progress(
        `pipeline run ${run + 1} ${side}: ${count} actions in ${result.seconds.toFixed(2)} s (${result.perSecond.toFixed(0)}/s), ` +
          `${result.cpuMsPerAction.toFixed(2)} ms CPU and ${result.redisCommandsPerAction.toFixed(0)} Redis commands per action`,
      );
    }
  }
  const botRate = median(bot.map((r) => r.perSecond));
  const baseRate = median(baseline.map((r) => r.perSecond));
  const compared = ctx.compare
    ? `; the other build (--compare ${ctx.compare}): ${median(other.map((r) => r.perSecond)).toFixed(0)} actions/s, ${median(other.map((r) => r.cpuMsPerAction)).toFixed(2)} ms CPU per action`
    : '';
  return {
    rows: [
      {
        section: 'pipeline',
        figure: `throughput, ${count} approved refreshes (submit, 3 polls, final)`,
        value: botRate,
        unit: 'actions/s',
        baseline: { name: 'bare BullMQ + undici', value: baseRate },
        ratio: ratio(botRate, baseRate),
        target: '≥ 0.50×',
        met: ratio(botRate, baseRate) >= 0.5 && bot.every((r) => (r.logErrors ?? 0) === 0),
        runs: bot.map((r) => r.perSecond),
        note: `CPU per action ${median(bot.map((r) => r.cpuMsPerAction)).toFixed(2)} ms vs ${median(baseline.map((r) => r.cpuMsPerAction)).toFixed(2)} ms (less noisy than throughput on a shared machine); poll interval ${POLL_MS} ms, worker concurrency ${CONCURRENCY} on both sides, opsbot pacing raised to 100k/s (one channel, fake Slack unlimited); the clock starts at queue resume with every action already approved (created through signed /ops commands and Approve clicks) and stops at the last final root update${compared}`,
      },
    ],
    details: {
      actionsPerRun: count,
      pollIntervalMs: POLL_MS,
      concurrency: CONCURRENCY,
      bot,
      baseline,
      ...(ctx.compare ? { compare: { children: ctx.compare, bot: other } } : {}),
    },
    economy: { bot, baseline },
  };
}
