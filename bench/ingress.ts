import { startArcgisSimulator } from '../src/vendors/arcgis/simulator.js';
import { startBot } from './lib/bot.js';
import type { BenchContext, SectionResult } from './lib/context.js';
import type { OpenLoopResult } from './lib/load.js';
import { until } from './lib/load.js';
import { type Child, startChild } from './lib/processes.js';
import { deletePrefix, freshPrefix } from './lib/redis.js';
import { BENCH_SLACK, CHANNEL, REQUESTER, SlackWatch, startBenchSlack, writeCalls } from './lib/slack.js';
import { median, percentile, ratio, sum } from './lib/stats.js';
import type { Row } from './lib/table.js';

/**
 * Ingress: signed `/ops arcgis refresh-deployment …` slash commands at fixed rates (open loop,
 * from a load-generator process), against the real bot (web and worker roles in one process, as
 * by default) and against a bare Bolt app on the same ExpressReceiver whose handler only acks.
 * For the bot, the approval messages arriving at the fake Slack are timed too: that is the full
 * command path (ack, parse, policy, request record, outbox, delivery, chat.postMessage).
 */

const RATES = [200, 1000];
const WARM_UP = { rate: 200, durationMs: 1000 };
/** Slack gives up on an ack after 3 s and shows the user an error. */
const SLACK_ACK_TIMEOUT_MS = 3000;

type App = 'bot' | 'bare';

interface RateSample {
  rate: number;
  sent: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  /** Acks slower than Slack's 3 s: Slack shows the user an error for these. */
  late: number;
  statuses: Record<string, number>;
  /** CPU time of the server process per command (for the bot, until its approval messages are out). */
  cpuMsPerCommand: number;
  /** Bot only: approval messages per second, from the first scheduled send to the last arrival. */
  approvalsPerSecond?: number;
  /** Bot only: approval messages that arrived. */
  approvals?: number;
}

interface AppRun {
  app: App;
  rates: RateSample[];
  /** Bot only: errors and warnings in its log, and refused Slack calls. */
  logErrors?: number;
  logWarnings?: number;
  logSamples?: string[];
  slackFailures?: number;
}

async function runApp(ctx: BenchContext, loadgen: Child, app: App, durationMs: number): Promise<AppRun> {
  const slack = await startBenchSlack();
  const watch = new SlackWatch(slack);
  const arcgis = await startArcgisSimulator();
  const deployment = arcgis.addDeployment().deploymentId;
  const prefix = freshPrefix('ingress');
  const bot =
    app === 'bot'
      ? await startBot({
          slackApiUrl: slack.apiUrl,
          redisUrl: ctx.redis.url,
          prefix,
          arcgis,
          pacing: { perChannelPerSecond: 100_000, burst: 100_000 },
        })
      : undefined;
  const bare = bot
    ? undefined
    : await startChild('bare-bolt', { type: 'start', slackApiUrl: slack.apiUrl, ...BENCH_SLACK });
  const url = bot?.url ?? String(bare!.ready.url);
  const server = bot?.child ?? bare!;

  const load = async (rate: number, ms: number): Promise<RateSample> => {
    const total = Math.round((rate * ms) / 1000);
    const before = watch.roots;
    const cpu = server.cpuMs();
    const result = await loadgen.ask<OpenLoopResult & { type: string }>(
      {
        type: 'load',
        botUrl: url,
        signingSecret: BENCH_SLACK.signingSecret,
        rate,
        durationMs: ms,
        userId: REQUESTER,
        channelId: CHANNEL,
        texts: [`arcgis refresh-deployment ${deployment}`],
        responseUrls: Array.from({ length: total }, () => slack.responseUrl(REQUESTER, CHANNEL)),
      },
      ms + 120_000,
    );
    const sample: RateSample = {
      rate,
      sent: result.sent,
      p50: percentile(result.latenciesMs, 50),
      p99: percentile(result.latenciesMs, 99),
      max: percentile(result.latenciesMs, 100),
      errors: result.errors,
      late: result.latenciesMs.filter((ms) => ms > SLACK_ACK_TIMEOUT_MS).length,
      statuses: result.statuses,
      cpuMsPerCommand: 0,
    };
    if (bot) {
      await until(() => watch.roots >= before + result.sent, 'every approval message', 120_000).catch(
        () => undefined,
      );
      const arrivals = [...watch.byRequest.values()]
        .map((root) => root.postedAt)
        .filter((at) => at >= result.startedAt);
      sample.approvals = arrivals.length;
      sample.approvalsPerSecond = arrivals.length / ((Math.max(...arrivals) - result.startedAt) / 1000);
    }
    sample.cpuMsPerCommand = (server.cpuMs() - cpu) / result.sent;
    return sample;
  };

  try {
    await load(WARM_UP.rate, WARM_UP.durationMs);
    const rates: RateSample[] = [];
    for (const rate of RATES) rates.push(await load(rate, durationMs));
    const run: AppRun = { app, rates };
    if (bot) {
      const log = await bot.stop();
      const calls = writeCalls(slack);
      Object.assign(run, {
        logErrors: log.errors,
        logWarnings: log.warnings,
        logSamples: log.samples,
        slackFailures: calls.failed + calls.rateLimited,
      });
    }
    return run;
  } finally {
    await bot?.stop();
    await bare?.stop();
    watch.close();
    await Promise.all([slack.close(), arcgis.close()]);
    await deletePrefix(ctx.redis.client, prefix);
  }
}

export async function measureIngress(ctx: BenchContext): Promise<SectionResult> {
  const durationMs = ctx.quick ? 2000 : 5000;
  const loadgen = await startChild('loadgen', { type: 'start' });
  const runs: Record<App, AppRun[]> = { bot: [], bare: [] };
  try {
    for (let run = 0; run < ctx.runs; run += 1) {
      const order: App[] = run % 2 === 0 ? ['bare', 'bot'] : ['bot', 'bare'];
      for (const app of order) {
        const result = await runApp(ctx, loadgen, app, durationMs);
        runs[app].push(result);
        const summary = result.rates
          .map(
            (r) =>
              `${r.rate}/s p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} ms, ${r.errors + r.late} errors, ` +
              `${r.cpuMsPerCommand.toFixed(2)} ms CPU/command${r.approvalsPerSecond ? `, ${r.approvalsPerSecond.toFixed(0)} approvals/s` : ''}`,
          )
          .join('; ');
        ctx.progress(`ingress run ${run + 1} ${app}: ${summary}`);
      }
    }
  } finally {
    await loadgen.stop();
  }

  const at = (app: App, rate: number) => runs[app].map((run) => run.rates.find((r) => r.rate === rate)!);
  const rows: Row[] = [];
  for (const rate of RATES) {
    const bot = median(at('bot', rate).map((s) => s.p99));
    const bare = median(at('bare', rate).map((s) => s.p99));
    rows.push({
      section: 'ingress',
      figure: `ack p99 at ${rate}/s`,
      value: bot,
      unit: 'ms',
      baseline: { name: 'bare Bolt', value: bare },
      ratio: ratio(bot, bare),
      target: '≤ 1.20×',
      met: ratio(bot, bare) <= 1.2,
      runs: at('bot', rate).map((s) => s.p99),
      note: `p50 ${median(at('bot', rate).map((s) => s.p50)).toFixed(2)} ms vs ${median(at('bare', rate).map((s) => s.p50)).toFixed(2)} ms bare; max ${Math.max(...at('bot', rate).map((s) => s.max)).toFixed(1)} ms vs ${Math.max(...at('bare', rate).map((s) => s.max)).toFixed(1)} ms`,
    });
  }
  const botErrors =
    sum(runs.bot.flatMap((run) => run.rates.map((r) => r.errors + r.late))) +
    sum(runs.bot.map((run) => (run.logErrors ?? 0) + (run.slackFailures ?? 0)));
  const bareErrors = sum(runs.bare.flatMap((run) => run.rates.map((r) => r.errors + r.late)));
  const cpu = (app: App, rate: number) => median(at(app, rate).map((s) => s.cpuMsPerCommand)).toFixed(2);
  rows.push({
    section: 'ingress',
    figure: 'errors (non-2xx or > 3 s acks, network, bot log errors, refused Slack calls)',
    value: botErrors,
    unit: '',
    baseline: { name: 'bare Bolt', value: bareErrors },
    target: '0',
    met: botErrors === 0 && bareErrors === 0,
    note: `late acks (> 3 s) bot ${sum(runs.bot.flatMap((run) => run.rates.map((r) => r.late)))}, bare ${sum(runs.bare.flatMap((run) => run.rates.map((r) => r.late)))}; CPU per command ${RATES.map((rate) => `at ${rate}/s bot ${cpu('bot', rate)} ms vs bare ${cpu('bare', rate)} ms`).join(', ')}`,
  });
  const top = Math.max(...RATES);
  const approvals = at('bot', top).map((s) => s.approvalsPerSecond ?? 0);
  const sustained = median(approvals);
  rows.push({
    section: 'ingress',
    figure: `full command path at ${top}/s offered (approval messages/s at the fake Slack)`,
    value: sustained,
    unit: '/s',
    baseline: { name: 'offered', value: top },
    ratio: ratio(sustained, top),
    target: '≥ 500/s',
    met: sustained >= 500 && at('bot', top).every((s) => s.approvals === s.sent),
    runs: approvals,
    note: "one channel, the bot's per-channel pacing raised to 100k/s (the fake Slack enforces no limit here); measured from the first scheduled command to the last approval message",
  });
  return { rows, details: { durationMs, rates: RATES, runs } };
}
