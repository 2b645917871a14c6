import { startArcgisSimulator } from '../src/vendors/arcgis/simulator.js';
import { approve, requestRefresh, startBot, statusChangesPerAction } from './lib/bot.js';
import type { BenchContext } from './lib/context.js';
import { closedLoop, until } from './lib/load.js';
import { openBenchRedis } from './lib/redis.js';
import { APPROVER, CHANNEL, REQUESTER, SlackWatch, startBenchSlack, writeCalls } from './lib/slack.js';
import { median } from './lib/stats.js';
import type { Row } from './lib/table.js';
import type { PipelineResult } from './pipeline.js';

/**
 * Economy under Slack's write limit: N refreshes requested at once in ONE channel, the fake Slack
 * enforcing about 1 message per second per channel (429 + Retry-After beyond it), the bot's pacing
 * at its defaults and its action timing at the refresh action's defaults. The approver clicks
 * Approve as each approval message appears. Then every thread is read back.
 *
 * The run takes about (messages ÷ 1/s) whatever the bot does, so bench/run.ts starts it first and
 * lets it run beside the other measurements (on its own private redis-server when it can).
 *
 * Counting: "Slack calls" are chat.postMessage + chat.update calls that reached the fake Slack
 * (accepted, and all attempts including those refused with 429). "Status changes" per action are
 * read from its timeline: approved, submitted (the vendor's first status), and each later change
 * of the vendor status (EXECUTING, COMPLETED); so a refresh has 4, and may use 6 Slack calls.
 */

/** The thread every refresh must have, in this order and nothing else. */
const EXPECTED_THREAD = ['Submitted to arcgis/prod', 'Status *EXECUTING*', '*Succeeded*'];
const PREFIX = 'bench-economy';
/** The stand-in's limit: Slack's documented ~1 message per second per channel, bursts of 3. */
const SLACK_LIMIT = { perSecond: 1, burst: 3 };

export interface EconomyRun {
  actions: number;
  seconds: number;
  acceptedWritesPerAction: number;
  /** Of those, chat.postMessage: the writes Slack limits per channel. */
  acceptedPostsPerAction: number;
  /** From the requests' timelines: approved, submitted, each later vendor status. */
  statusChangesPerAction: number;
  attemptsPerAction: number;
  /** 429 answers the bot received (and absorbed). */
  rateLimited: number;
  /** Threads missing a message, with one twice, or out of order. */
  lostOrDisordered: number;
  /** Requests that did not end `succeeded` (a surfaced Slack failure would end them otherwise). */
  notSucceeded: number;
  /** Messages shown to users that mention a rate limit, plus every ephemeral (response_url) message. */
  surfacedToUsers: number;
  /** A few distinct texts of those messages. */
  surfacedSamples: string[];
  tokensMinted: number;
  botCpuPercent: number;
  logErrors: number;
  logWarnings: number;
  logSamples: string[];
}

/**
 * `settled` is called once the run's burst is over (its bot started and every command sent), so
 * the sections measured beside it do not share the CPU with that burst; from then on it is paced
 * by the 1 message/s limit and needs little CPU.
 */
export async function runEconomy(ctx: BenchContext, settled: () => void = () => {}): Promise<EconomyRun> {
  const count = ctx.quick ? 10 : 100;
  const redis = await openBenchRedis();
  const arcgis = await startArcgisSimulator({
    job: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
  });
  const deployments = Array.from({ length: count }, () => arcgis.addDeployment().deploymentId);
  const slack = await startBenchSlack(SLACK_LIMIT);
  const watch = new SlackWatch(slack);
  const bot = await startBot({
    slackApiUrl: slack.apiUrl,
    redisUrl: redis.url,
    prefix: PREFIX,
    arcgis,
  });
  try {
    const started = Date.now();
    const cpu = bot.child.cpuMs();
    const clicks: Array<Promise<number>> = [];
    watch.onRoot((root) => clicks.push(approve(bot.peer, root, slack.responseUrl(APPROVER, CHANNEL))));
    await closedLoop(count, 8, async (i) => {
      await requestRefresh(bot.peer, deployments[i]!, slack.responseUrl(REQUESTER, CHANNEL));
    });
    settled();
    await until(
      () => watch.finished.size === count,
      `${count} refreshes to finish under the rate limit`,
      1_200_000,
      250,
    );
    await Promise.all(clicks);
    const seconds = (Date.now() - started) / 1000;
    const botCpuPercent = (bot.child.cpuMs() - cpu) / 10 / seconds;

    let lostOrDisordered = 0;
    for (const root of watch.byRequest.values()) {
      const thread = slack.thread(root.channel, root.ts).map((message) => message.text);
      const inOrder =
        thread.length === EXPECTED_THREAD.length &&
        EXPECTED_THREAD.every((text, i) => thread[i]!.includes(text));
      if (!inOrder) lostOrDisordered += 1;
    }
    // Whole words only: random deployment and request ids contain "429" now and then.
    const mentionsLimit = slack.messages
      .filter((m) =>
        /rate.?limit|too many requests|\b429\b/i.test(`${m.text} ${JSON.stringify(m.blocks ?? [])}`),
      )
      .map((m) => m.text);
    const surfaced = [...watch.ephemerals, ...mentionsLimit];
    const calls = writeCalls(slack);
    const statusChanges = await statusChangesPerAction(
      redis.client,
      PREFIX,
      [...watch.byRequest.values()].map((root) => root.requestId),
    );
    const log = await bot.stop();
    return {
      actions: count,
      seconds,
      acceptedWritesPerAction: calls.accepted / count,
      acceptedPostsPerAction: calls.acceptedPosts / count,
      statusChangesPerAction: statusChanges,
      attemptsPerAction: calls.attempts / count,
      rateLimited: calls.rateLimited,
      lostOrDisordered,
      notSucceeded: count - watch.finished.size,
      surfacedToUsers: surfaced.length,
      surfacedSamples: [...new Set(surfaced)].slice(0, 5),
      tokensMinted: arcgis.counters.tokensMinted,
      botCpuPercent,
      logErrors: log.errors,
      logWarnings: log.warnings,
      logSamples: log.samples,
    };
  } finally {
    await bot.stop();
    watch.close();
    await Promise.all([slack.close(), arcgis.close()]);
    await redis.close();
  }
}

/** The economy rows: Slack calls per action (from the pipeline runs and from this one), losses, 429s, tokens. */
export function economyRows(run: EconomyRun, pipeline: PipelineResult | undefined): Row[] {
  const rows: Row[] = [];
  if (pipeline) {
    const bot = pipeline.economy.bot;
    const writes = median(bot.map((r) => r.slackWritesPerAction));
    const bound = median(bot.map((r) => r.statusChangesPerAction ?? Number.NaN)) + 2;
    rows.push({
      section: 'economy',
      figure: `Slack calls per action, pipeline (${bot[0]?.actions ?? 0} refreshes, no limit)`,
      value: writes,
      unit: '',
      baseline: { name: 'status changes + 2', value: bound },
      ratio: writes / bound,
      target: '≤ bound',
      met: writes <= bound,
      runs: bot.map((r) => r.slackWritesPerAction),
      note: `chat.postMessage + chat.update per action, approval message included; the bare baseline makes ${median(pipeline.economy.baseline.map((r) => r.slackWritesPerAction)).toFixed(2)} (it skips the "approved" root update)`,
    });
    const tokens = Math.max(...bot.map((r) => r.tokensMinted));
    rows.push({
      section: 'economy',
      figure: `vendor tokens minted, ${bot[0]?.actions ?? 0} concurrent refreshes on one target`,
      value: tokens,
      unit: '',
      baseline: {
        name: 'bare baseline',
        value: Math.max(...pipeline.economy.baseline.map((r) => r.tokensMinted)),
      },
      target: '≤ 1 per token lifetime',
      met: tokens <= 1,
      runs: bot.map((r) => r.tokensMinted),
      note: 'simulator counters.tokensMinted over each timed pipeline run (each lasts seconds; the token lives 60 minutes); worst run shown',
    });
  }
  const bound = run.statusChangesPerAction + 2;
  // Every post counts against the stand-in's per-channel bucket (updates have their own, roomier
  // limit): this is as fast as it lets the run go, whoever sends.
  const floorSeconds = (run.acceptedPostsPerAction * run.actions - SLACK_LIMIT.burst) / SLACK_LIMIT.perSecond;
  rows.push(
    {
      section: 'economy',
      figure: `Slack calls per action, ${run.actions} in one channel at ~1 msg/s`,
      value: run.acceptedWritesPerAction,
      unit: '',
      baseline: { name: 'status changes + 2', value: bound },
      ratio: run.acceptedWritesPerAction / bound,
      target: '≤ bound',
      met: run.acceptedWritesPerAction <= bound,
      note: `${run.attemptsPerAction.toFixed(2)} per action counting the attempts refused with 429; fewer than 6 when a root update waited behind a newer one and only the newest was sent; bot CPU ${run.botCpuPercent.toFixed(1)}% over the run`,
    },
    {
      section: 'economy',
      figure: `time for ${run.actions} actions in one channel at ~1 msg/s`,
      value: run.seconds,
      unit: 's',
      baseline: { name: "posts ÷ the stand-in's rate", value: floorSeconds },
      ratio: run.seconds / floorSeconds,
      note: "the stand-in, like Slack and opsbot's pacer, limits chat.postMessage to 1/s per channel and chat.update separately (~50/min); the floor is the posts ÷ that rate; this run runs beside the other sections",
    },
    {
      section: 'economy',
      figure: 'updates lost or out of order (every thread read back)',
      value: run.lostOrDisordered + run.notSucceeded,
      unit: '',
      target: '0',
      met: run.lostOrDisordered + run.notSucceeded === 0,
      note: `${run.notSucceeded} requests did not end succeeded; ${run.lostOrDisordered} threads differ from: ${EXPECTED_THREAD.join(' → ')}`,
    },
    {
      section: 'economy',
      figure: '429s received by the bot (absorbed)',
      value: run.rateLimited,
      unit: '',
      note: 'the bot paces at 1/s with bursts of 3, like the stand-in; a 429 pauses the channel for Retry-After',
    },
    {
      section: 'economy',
      figure: '429s surfaced to users',
      value: run.surfacedToUsers,
      unit: '',
      target: '0',
      met: run.surfacedToUsers === 0 && run.logErrors === 0,
      note: `ephemeral messages, plus any message mentioning a rate limit, plus bot log errors (${run.logErrors})${run.surfacedSamples.length > 0 ? `: ${run.surfacedSamples.join(' / ')}` : ''}`,
    },
  );
  return rows;
}
