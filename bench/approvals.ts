import { setPriority } from 'node:os';
import { startArcgisSimulator } from '../src/vendors/arcgis/simulator.js';
import { startBot, UNPACED } from './lib/bot.js';
import type { BenchContext, SectionResult } from './lib/context.js';
import type { OpenLoopResult } from './lib/load.js';
import { sleep, until } from './lib/load.js';
import { type Child, startChild } from './lib/processes.js';
import { deletePrefix, freshPrefix } from './lib/redis.js';
import { APPROVER, BENCH_SLACK, CHANNEL, REQUESTER, SlackWatch, startBenchSlack } from './lib/slack.js';
import { median, percentile, ratio, sum } from './lib/stats.js';
import type { Row } from './lib/table.js';

/**
 * The approval-click path: signed Approve clicks at 200/s (open loop, from the load generator),
 * each on a different pending request, against opsbot deployed as the README's guide says (a web
 * process and a worker process at nice 10) and against a bare Bolt app whose Approve handler only
 * acknowledges. opsbot decides a click before it acknowledges it (so a web process killed right
 * after answering Slack has not lost it): the re-check, the vote weighed against the quorum and
 * recorded by one Lua script, the run queued; the worker then runs the action. Bursts alternate
 * between the two servers, in an order that flips every round.
 */

const RATE = 200;
const SLACK_ACK_TIMEOUT_MS = 3000;

interface ClickBurst {
  server: 'bot' | 'bare';
  sent: number;
  p50: number;
  p99: number;
  errors: number;
  late: number;
  cpuMsPerClick: number;
}

export async function measureApprovals(ctx: BenchContext): Promise<SectionResult> {
  const durationMs = ctx.quick ? 1000 : 3000;
  const perBurst = Math.round((RATE * durationMs) / 1000);
  const slack = await startBenchSlack();
  const watch = new SlackWatch(slack);
  const arcgis = await startArcgisSimulator();
  const prefix = freshPrefix('approvals');
  const common = { slackApiUrl: slack.apiUrl, redisUrl: ctx.redis.url, prefix, arcgis, pacing: UNPACED };
  const worker = await startBot({ ...common, roles: ['worker'] });
  setPriority(worker.child.pid, 10);
  const bot = await startBot({ ...common, roles: ['web'] });
  const bare = await startChild('bare-bolt', {
    type: 'start',
    slackApiUrl: slack.apiUrl,
    post: false,
    ...BENCH_SLACK,
  });
  const loadgen = await startChild('loadgen', { type: 'start' });
  const bursts: ClickBurst[] = [];
  try {
    /** Opens `count` pending requests on distinct deployments; answers their approval messages. */
    const openRequests = async (count: number) => {
      const deployments = Array.from({ length: count }, () => arcgis.addDeployment().deploymentId);
      const before = watch.roots;
      await loadgen.ask(
        {
          type: 'load',
          botUrl: bot.url,
          signingSecret: BENCH_SLACK.signingSecret,
          rate: 500,
          durationMs: (count / 500) * 1000,
          userId: REQUESTER,
          channelId: CHANNEL,
          texts: deployments.map((id) => `arcgis refresh-deployment ${id}`),
          responseUrls: deployments.map(() => slack.responseUrl(REQUESTER, CHANNEL)),
        },
        120_000,
      );
      await until(() => watch.roots >= before + count, 'the approval messages', 120_000);
      return [...watch.byRequest.values()].slice(before, before + count);
    };
    const burst = async (server: 'bot' | 'bare'): Promise<ClickBurst> => {
      const messages = await openRequests(perBurst);
      // The requests' own start-up work (the worker posting them) is over before the clicks.
      await sleep(500);
      const children: Child[] = server === 'bot' ? [bot.child, worker.child] : [bare];
      const cpu = sum(children.map((child) => child.cpuMs()));
      const result = await loadgen.ask<OpenLoopResult & { type: string }>(
        {
          type: 'clicks',
          botUrl: server === 'bot' ? bot.url : String(bare.ready.url),
          signingSecret: BENCH_SLACK.signingSecret,
          rate: RATE,
          durationMs,
          userId: APPROVER,
          channelId: CHANNEL,
          messages: messages.map((root) => ({ requestId: root.requestId, ts: root.ts })),
          responseUrls: messages.map(() => slack.responseUrl(APPROVER, CHANNEL)),
        },
        durationMs + 60_000,
      );
      const sample: ClickBurst = {
        server,
        sent: result.sent,
        p50: percentile(result.latenciesMs, 50),
        p99: percentile(result.latenciesMs, 99),
        errors: result.errors,
        late: result.latenciesMs.filter((ms) => ms > SLACK_ACK_TIMEOUT_MS).length,
        cpuMsPerClick: 0,
      };
      sample.cpuMsPerClick = (sum(children.map((child) => child.cpuMs())) - cpu) / result.sent;
      return sample;
    };
    await burst('bot');
    await burst('bare');
    for (let round = 0; round < ctx.runs; round += 1) {
      for (const server of round % 2 === 0 ? (['bare', 'bot'] as const) : (['bot', 'bare'] as const)) {
        const sample = await burst(server);
        bursts.push(sample);
        ctx.progress(
          `approvals round ${round + 1} ${server}: p50 ${sample.p50.toFixed(1)} p99 ${sample.p99.toFixed(1)} ms, ${sample.errors + sample.late} errors`,
        );
      }
    }
    const refusals = watch.ephemerals.filter((text) => text.includes(':warning:')).length;
    return { rows: approvalRows(bursts, refusals), details: { rate: RATE, durationMs, bursts, refusals } };
  } finally {
    await Promise.all([bot.stop(), worker.stop(), bare.stop(), loadgen.stop()]);
    watch.close();
    await Promise.all([slack.close(), arcgis.close()]);
    await deletePrefix(ctx.redis.client, prefix);
  }
}

function approvalRows(bursts: ClickBurst[], refusals: number): Row[] {
  const of = (server: 'bot' | 'bare') => bursts.filter((b) => b.server === server);
  const med = (server: 'bot' | 'bare', pick: (b: ClickBurst) => number) => median(of(server).map(pick));
  const bot = med('bot', (b) => b.p99);
  const bare = med('bare', (b) => b.p99);
  const failures = sum(of('bot').map((b) => b.errors + b.late));
  return [
    {
      section: 'approvals',
      figure: `approval click ack p99 at ${RATE}/s (each click approves a request)`,
      value: bot,
      unit: 'ms',
      baseline: { name: 'bare Bolt, ack only', value: bare },
      ratio: ratio(bot, bare),
      runs: of('bot').map((b) => b.p99),
      note: `p50 ${med('bot', (b) => b.p50).toFixed(1)} ms vs ${med('bare', (b) => b.p50).toFixed(1)} ms bare; CPU per click ${med('bot', (b) => b.cpuMsPerClick).toFixed(2)} ms (web and worker: the decision, then the run it queues) vs ${med('bare', (b) => b.cpuMsPerClick).toFixed(2)} ms; opsbot decides (re-check, vote, run queued) before it acknowledges`,
    },
    {
      section: 'approvals',
      figure: 'approval clicks failed, late (> 3 s) or refused',
      value: failures + refusals,
      unit: '',
      target: '0',
      met: failures + refusals === 0,
      note: `${failures} failed or late acks, ${refusals} refusals shown to the clicker`,
    },
  ];
}
