import { Queue } from 'bullmq';
import type { FakeSlack } from '../src/devtools/fake-slack.js';
import { ACTIONS_QUEUE } from '../src/jobs/queues.js';
import { startArcgisSimulator } from '../src/vendors/arcgis/simulator.js';
import { BASELINE_QUEUE, type BaselineJob } from './lib/baseline.js';
import { approve, requestRefresh, startBot } from './lib/bot.js';
import type { BenchContext, SectionResult } from './lib/context.js';
import { closedLoop, sleep, until } from './lib/load.js';
import { deletePrefix, freshPrefix, usedMemory } from './lib/redis.js';
import { APPROVER, CHANNEL, REQUESTER, SlackWatch, startBenchSlack } from './lib/slack.js';
import { median } from './lib/stats.js';

/**
 * Scale: N refreshes in flight at once, all waiting on vendor jobs that stay EXECUTING, in ONE
 * worker process (opsbot with `roles: [worker]`, measured alone); a second opsbot process with
 * `roles: [web]` takes the signed slash commands and clicks that create and approve them.
 *
 * - Resident memory of the worker process, idle (the baseline) and with N in flight (now and peak).
 * - Redis memory per in-flight action: used_memory after − before, ÷ N; the baseline is the same
 *   number of bare BullMQ delayed jobs holding a baseline action's state.
 * - Worker slots free while waiting: a new request is approved and the time until its vendor
 *   submit reaches the simulator is measured, with N in flight and with none (the baseline).
 */

const MB = 1024 * 1024;
/** Realistic for refreshes that take minutes; every action polls at this pace all along. */
const POLL_INTERVAL = '30s';
const PROBES = 5;

export async function measureScale(ctx: BenchContext): Promise<SectionResult> {
  const count = ctx.quick ? 1000 : 10_000;
  const arcgis = await startArcgisSimulator({
    job: { outcome: 'COMPLETED', polls: { SUBMITTED: 0, EXECUTING: 1_000_000_000 } },
  });
  const deployments = Array.from({ length: count }, () => arcgis.addDeployment().deploymentId);
  const slack = await startBenchSlack();
  const watch = new SlackWatch(slack);
  const prefix = freshPrefix('scale');
  const common = {
    slackApiUrl: slack.apiUrl,
    redisUrl: ctx.redis.url,
    prefix,
    arcgis,
    pacing: { perChannelPerSecond: 100_000, burst: 100_000 },
    timing: { pollInterval: POLL_INTERVAL, firstPollDelay: '1s' },
  };
  const worker = await startBot({ ...common, roles: ['worker'] });
  const web = await startBot({ ...common, roles: ['web'] });
  const actions = new Queue(ACTIONS_QUEUE, { connection: ctx.redis.client, prefix });

  /** Creates and approves one request per deployment, as Slack would deliver them. */
  const createAndApprove = async (ids: string[], concurrency: number) => {
    const before = watch.roots;
    await closedLoop(ids.length, concurrency, async (i) => {
      const status = await requestRefresh(web.peer, ids[i]!, slack.responseUrl(REQUESTER, CHANNEL));
      if (status !== 200) throw new Error(`slash command answered ${status}`);
    });
    await until(() => watch.roots >= before + ids.length, 'the approval messages', 300_000);
    const roots = [...watch.byRequest.values()].slice(before);
    await closedLoop(roots.length, concurrency, async (i) => {
      const status = await approve(web.peer, roots[i]!, slack.responseUrl(APPROVER, CHANNEL));
      if (status !== 200) throw new Error(`approve click answered ${status}`);
    });
  };
  /** Time from the Approve click's answer to the vendor receiving the submit. */
  const probeStart = async (): Promise<number> => {
    const deploymentId = arcgis.addDeployment().deploymentId;
    const before = watch.roots;
    await requestRefresh(web.peer, deploymentId, slack.responseUrl(REQUESTER, CHANNEL));
    await until(() => watch.roots > before, 'the probe approval message', 60_000, 5);
    const root = [...watch.byRequest.values()].at(-1)!;
    await approve(web.peer, root, slack.responseUrl(APPROVER, CHANNEL));
    const clicked = performance.now();
    await until(() => (arcgis.counters.refreshCalls[deploymentId] ?? 0) > 0, 'the probe submit', 60_000, 2);
    return performance.now() - clicked;
  };

  try {
    await sleep(1000);
    const idle = worker.child.memory();
    const memoryBefore = await usedMemory(ctx.redis.client);
    const idleStarts: number[] = [];
    for (let i = 0; i < PROBES; i += 1) idleStarts.push(await probeStart());
    ctx.progress(
      `scale: idle worker ${(idle.rss / MB).toFixed(0)} MB, new action starts in ${median(idleStarts).toFixed(0)} ms`,
    );

    const created = Date.now();
    const baselineMemory = await usedMemory(ctx.redis.client);
    await createAndApprove(deployments, 32);
    await until(
      () => countThreadReplies(slack, 'Status *EXECUTING*') >= count + PROBES,
      `${count} actions following EXECUTING vendor jobs`,
      600_000,
      500,
    );
    await sleep(2000);
    const counts = await actions.getJobCounts('delayed', 'active', 'wait', 'prioritized');
    const inFlight = (await countRunning(ctx, prefix)) - PROBES;
    const memoryAfter = await usedMemory(ctx.redis.client);
    const loaded = worker.child.memory();
    const heap = await worker.child.ask({ type: 'memory' });
    const live = await worker.child.ask({ type: 'memory', collect: true });
    const collected = worker.child.memory();
    ctx.progress(
      `scale: ${inFlight} in flight after ${((Date.now() - created) / 1000).toFixed(0)} s; worker ${(loaded.rss / MB).toFixed(0)} MB (peak ${(loaded.peak / MB).toFixed(0)} MB); Redis +${((memoryAfter - baselineMemory) / 1024 / inFlight).toFixed(2)} KB per action`,
    );

    const reads = arcgis.counters.jobReads;
    const cpu = worker.child.cpuMs();
    const window = Date.now();
    const busyStarts: number[] = [];
    for (let i = 0; i < PROBES; i += 1) busyStarts.push(await probeStart());
    const seconds = (Date.now() - window) / 1000;
    const pollsPerSecond = (arcgis.counters.jobReads - reads) / seconds;
    const workerCpu = (worker.child.cpuMs() - cpu) / 10 / seconds;
    ctx.progress(
      `scale: new action starts in ${median(busyStarts).toFixed(0)} ms with ${inFlight} in flight (${pollsPerSecond.toFixed(0)} polls/s, worker CPU ${workerCpu.toFixed(0)}%)`,
    );

    const breakdown = await memoryByKeyKind(ctx, prefix, inFlight);
    const bare = await bareDelayedJobBytes(ctx, count);
    const perAction = (memoryAfter - memoryBefore) / inFlight;
    const logs = [await web.stop(), await worker.stop()];
    return {
      rows: [
        {
          section: 'scale',
          figure: `worker RSS with ${inFlight.toLocaleString('en-US')} in flight (peak)`,
          value: loaded.peak / MB,
          unit: 'MB',
          baseline: { name: 'same worker idle', value: idle.rss / MB },
          ratio: loaded.peak / idle.rss,
          target: '< 200 MB',
          met: loaded.peak < 200 * MB,
          note: `RSS now ${(loaded.rss / MB).toFixed(0)} MB; one opsbot process with roles [worker] run by node --import tsx (the TypeScript loader's own memory included)`,
        },
        {
          section: 'scale',
          figure: 'Redis memory per in-flight action',
          value: perAction / 1024,
          unit: 'KB',
          baseline: { name: 'bare BullMQ delayed job', value: bare / 1024 },
          ratio: perAction / bare,
          target: '< 5 KB',
          met: perAction < 5 * 1024,
          note: `used_memory delta ${((memoryAfter - memoryBefore) / MB).toFixed(1)} MB ÷ ${inFlight}; includes the request record, timeline, audit records, outbox, lock, run and expiry jobs and the finished delivery jobs BullMQ keeps`,
        },
        {
          section: 'scale',
          figure: `new action starts (approve → vendor submit), ${inFlight.toLocaleString('en-US')} in flight`,
          value: median(busyStarts),
          unit: 'ms',
          baseline: { name: 'none in flight', value: median(idleStarts) },
          ratio: median(busyStarts) / median(idleStarts),
          target: '< 1,000 ms',
          met: Math.max(...busyStarts) < 1000,
          runs: busyStarts,
          note: `median of ${PROBES} probes (max ${Math.max(...busyStarts).toFixed(0)} ms); every action polls every ${POLL_INTERVAL}: ${pollsPerSecond.toFixed(0)} polls/s, worker CPU ${workerCpu.toFixed(0)}% during the probes`,
        },
      ],
      details: {
        inFlight,
        pollInterval: POLL_INTERVAL,
        worker: {
          idle,
          loaded,
          heap,
          afterFullGc: { ...live, rss: collected.rss },
          cpuPercentDuringProbes: workerCpu,
        },
        redis: {
          before: memoryBefore,
          after: memoryAfter,
          perActionBytes: perAction,
          bareDelayedJobBytes: bare,
        },
        jobCounts: counts,
        redisBytesPerActionByKeyKind: breakdown,
        starts: { idleMs: idleStarts, busyMs: busyStarts },
        pollsPerSecond,
        logs,
      },
    };
  } finally {
    await web.stop();
    await worker.stop();
    await actions.close();
    watch.close();
    await Promise.all([slack.close(), arcgis.close()]);
    await deletePrefix(ctx.redis.client, prefix);
  }
}

function countThreadReplies(slack: FakeSlack, text: string): number {
  let count = 0;
  for (const message of slack.messages) if (message.thread_ts && message.text.includes(text)) count += 1;
  return count;
}

/** Requests whose state is `running`, read from their records. */
async function countRunning(ctx: BenchContext, prefix: string): Promise<number> {
  const ids = await ctx.redis.client.zrange(`${prefix}:requests`, '0', '-1');
  const pipeline = ctx.redis.client.pipeline();
  for (const id of ids) pipeline.hget(`${prefix}:req:${id}`, 'state');
  const states = (await pipeline.exec()) ?? [];
  return states.filter(([, state]) => state === 'running').length;
}

/** Bytes per bare BullMQ delayed job holding a baseline action's state while it waits. */
async function bareDelayedJobBytes(ctx: BenchContext, count: number): Promise<number> {
  const prefix = freshPrefix('bare-delayed');
  const queue = new Queue<BaselineJob>(BASELINE_QUEUE, { connection: ctx.redis.client, prefix });
  try {
    await queue.waitUntilReady();
    const before = await usedMemory(ctx.redis.client);
    for (let from = 0; from < count; from += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, count - from) }, (_, i) => ({
          name: 'refresh',
          data: {
            requestId: `b-${from + i}`,
            deploymentId: 'k0123456789abcdefghij',
            channel: CHANNEL,
            rootTs: '1700000000.000100',
            phase: 'poll' as const,
            jobId: 'j0123456789abcdef0123456789abcdef',
            status: 'EXECUTING',
          },
          opts: { delay: 3_600_000 },
        })),
      );
    }
    return ((await usedMemory(ctx.redis.client)) - before) / count;
  } finally {
    await queue.close();
    await deletePrefix(ctx.redis.client, prefix);
  }
}

/**
 * Where Redis memory goes: MEMORY USAGE of every key under the prefix, grouped by the key's shape
 * (ids replaced by placeholders), in bytes per in-flight action, largest first.
 */
async function memoryByKeyKind(
  ctx: BenchContext,
  prefix: string,
  actions: number,
): Promise<Record<string, number>> {
  const totals = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await ctx.redis.client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
    cursor = next;
    const pipeline = ctx.redis.client.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key);
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const kind = key
        .slice(prefix.length + 1)
        .replace(/op-[a-z0-9]+/g, '<request>')
        .replace(/:(deliver|run|expire)-[^:]+/g, ':$1-<id>')
        .replace(/:k[a-z0-9]{20}/g, ':<deployment>')
        .replace(/:C[A-Z0-9]+/g, ':<channel>')
        .replace(/:\d+$/, ':<n>');
      totals.set(kind, (totals.get(kind) ?? 0) + Number(sizes[i]?.[1] ?? 0));
    });
  } while (cursor !== '0');
  return Object.fromEntries(
    [...totals].sort((a, b) => b[1] - a[1]).map(([kind, bytes]) => [kind, Math.round(bytes / actions)]),
  );
}
