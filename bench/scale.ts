import { Queue } from 'bullmq';
import type { FakeSlack } from '../src/devtools/fake-slack.js';
import { ACTIONS_QUEUE } from '../src/jobs/queues.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../src/vendors/arcgis/simulator.js';
import { BASELINE_QUEUE, type BaselineJob } from './lib/baseline.js';
import {
  approve,
  type BotProcess,
  type LogSummary,
  requestAndApprove,
  requestRefresh,
  START_FLAGS,
  startBot,
  UNPACED,
} from './lib/bot.js';
import type { BenchContext, SectionResult } from './lib/context.js';
import { sleep, until } from './lib/load.js';
import { deletePrefix, freshPrefix, usedMemory } from './lib/redis.js';
import { APPROVER, CHANNEL, REQUESTER, SlackWatch, startBenchSlack } from './lib/slack.js';
import { median, sum } from './lib/stats.js';
import type { Row } from './lib/table.js';

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
 * - Vendor tokens: the simulator's tokens live TOKEN_LIFETIME_MS, far less than the run, so the
 *   number minted while N actions call the vendor shows whether they share one per lifetime.
 */

const MB = 1024 * 1024;
/** Realistic for refreshes that take minutes; every action polls at this pace all along. */
const POLL_INTERVAL = '30s';
const PROBES = 5;
/** Short enough that tokens expire several times during the run. */
const TOKEN_LIFETIME_MS = 60_000;
/** The ArcGIS client renews a token when 90% of its life has passed (src/vendors/arcgis/client.ts). */
const RENEWED_AT = 0.9;

export async function measureScale(ctx: BenchContext): Promise<SectionResult> {
  const rig = await startRig(ctx, ctx.quick ? 1000 : 10_000);
  try {
    const run = await measure(ctx, rig);
    return { rows: scaleRows(run), details: { ...run, pollInterval: POLL_INTERVAL } };
  } finally {
    await rig.close();
  }
}

/** The processes and stand-ins of one scale run, and the probe that times a new action's start. */
interface Rig {
  count: number;
  prefix: string;
  arcgis: ArcgisSimulator;
  deployments: string[];
  watch: SlackWatch;
  worker: BotProcess;
  web: BotProcess;
  workerStarted: number;
  actions: Queue;
  /**
   * Time from the Approve click to the vendor receiving the submit. (opsbot records the decision
   * before it answers the click, so the submit may even arrive before the click's answer.)
   */
  probeStart(): Promise<number>;
  close(): Promise<void>;
}

async function startRig(ctx: BenchContext, count: number): Promise<Rig> {
  const arcgis = await startArcgisSimulator({
    job: { outcome: 'COMPLETED', polls: { SUBMITTED: 0, EXECUTING: 1_000_000_000 } },
    tokenLifetimeMs: TOKEN_LIFETIME_MS,
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
    pacing: UNPACED,
    timing: { pollInterval: POLL_INTERVAL, firstPollDelay: '1s' },
  };
  const worker = await startBot({ ...common, roles: ['worker'] });
  const workerStarted = Date.now();
  const web = await startBot({ ...common, roles: ['web'] });
  // Without skipMetasUpdate it would reset the queue's settings (its event stream
  // length) to BullMQ's defaults.
  const actions = new Queue(ACTIONS_QUEUE, { connection: ctx.redis.client, prefix, skipMetasUpdate: true });
  return {
    count,
    prefix,
    arcgis,
    deployments,
    watch,
    worker,
    web,
    workerStarted,
    actions,
    probeStart: async () => {
      const deploymentId = arcgis.addDeployment().deploymentId;
      const before = watch.roots;
      await requestRefresh(web.peer, deploymentId, slack.responseUrl(REQUESTER, CHANNEL));
      await until(() => watch.roots > before, 'the probe approval message', 60_000, 5);
      const root = [...watch.byRequest.values()].at(-1)!;
      const clicked = performance.now();
      await approve(web.peer, root, slack.responseUrl(APPROVER, CHANNEL));
      await until(() => (arcgis.counters.refreshCalls[deploymentId] ?? 0) > 0, 'the probe submit', 60_000, 2);
      return performance.now() - clicked;
    },
    close: async () => {
      await Promise.all([web.stop(), worker.stop()]);
      await actions.close();
      watch.close();
      await Promise.all([slack.close(), arcgis.close()]);
      await deletePrefix(ctx.redis.client, prefix);
    },
  };
}

type Memory = ReturnType<BotProcess['child']['memory']>;
type HeapFigures = { heapUsed: number; heapTotal: number };

/** Everything one scale run measured (also written to the JSON file). */
interface ScaleRun {
  inFlight: number;
  rampSeconds: number;
  worker: {
    idle: Memory;
    loaded: Memory;
    peak: number;
    heap: HeapFigures;
    live: HeapFigures;
    cpuPercentDuringProbes: number;
  };
  redis: { before: number; after: number; perActionBytes: number; bareDelayedJobBytes: number };
  redisBytesPerActionByKeyKind: Record<string, number>;
  /** Growth of the audit stream and the request timelines per vendor poll. */
  historyBytesPerPoll: number;
  pollsPerAction: number;
  pollsPerSecond: number;
  starts: { idleMs: number[]; busyMs: number[] };
  tokens: { minted: number; windowMs: number; vendorCalls: number; bound: number };
  jobCounts: Record<string, number>;
  logs: LogSummary[];
}

async function measure(ctx: BenchContext, rig: Rig): Promise<ScaleRun> {
  const { arcgis, worker } = rig;
  const redis = ctx.redis.client;

  // 1. Idle: the worker's memory, Redis, and how fast a new action starts with nothing in flight.
  await sleep(1000);
  const idle = worker.child.memory();
  const memoryBefore = await usedMemory(redis);
  // The first action through fresh processes pays for compiling the code paths: not counted.
  await rig.probeStart();
  const idleStarts: number[] = [];
  for (let i = 0; i < PROBES; i += 1) idleStarts.push(await rig.probeStart());
  ctx.progress(
    `scale: idle worker ${(idle.rss / MB).toFixed(0)} MB, new action starts in ${median(idleStarts).toFixed(0)} ms`,
  );

  // 2. The ramp: every action requested, approved, submitted and following an EXECUTING job.
  const created = Date.now();
  await requestAndApprove(rig.web.peer, rig.watch, rig.deployments, 32);
  await until(
    () => countThreadReplies(rig.watch.slack, 'Status *EXECUTING*') >= rig.count + PROBES + 1,
    `${rig.count} actions following EXECUTING vendor jobs`,
    600_000,
    500,
  );
  const rampSeconds = (Date.now() - created) / 1000;
  await sleep(2000);

  // 3. Loaded: memory of the worker (before and after a full GC) and of Redis.
  const jobCounts = await rig.actions.getJobCounts('delayed', 'active', 'wait', 'prioritized');
  const inFlight = (await countRunning(ctx, rig.prefix)) - PROBES - 1;
  const memoryAfter = await usedMemory(redis);
  const loaded = worker.child.memory();
  const heap = await worker.child.ask<HeapFigures>({ type: 'memory' });
  const live = await worker.child.ask<HeapFigures>({ type: 'memory', collect: true });
  ctx.progress(
    `scale: ${inFlight} in flight after ${rampSeconds.toFixed(0)} s; worker ${(loaded.rss / MB).toFixed(0)} MB (peak ${(loaded.peak / MB).toFixed(0)} MB); Redis +${((memoryAfter - memoryBefore) / 1024 / inFlight).toFixed(2)} KB per action`,
  );

  // 4. Busy: new actions start while every one in flight keeps polling; Redis grows per poll.
  const reads = arcgis.counters.jobReads;
  const historyBefore = await historyBytes(ctx, rig.prefix);
  const cpu = worker.child.cpuMs();
  const window = Date.now();
  const busyStarts: number[] = [];
  for (let i = 0; i < PROBES; i += 1) busyStarts.push(await rig.probeStart());
  const seconds = (Date.now() - window) / 1000;
  const polls = arcgis.counters.jobReads - reads;
  // The probes' own records are a rounding error next to thousands of polls.
  const historyBytesPerPoll =
    polls > 0 ? ((await historyBytes(ctx, rig.prefix)) - historyBefore) / polls : Number.NaN;
  const cpuPercentDuringProbes = (worker.child.cpuMs() - cpu) / 10 / seconds;
  const tokenWindowMs = Date.now() - rig.workerStarted;
  ctx.progress(
    `scale: new action starts in ${median(busyStarts).toFixed(0)} ms with ${inFlight} in flight (${(polls / seconds).toFixed(0)} polls/s, worker CPU ${cpuPercentDuringProbes.toFixed(0)}%)`,
  );

  return {
    inFlight,
    rampSeconds,
    worker: { idle, loaded, peak: worker.child.memory().peak, heap, live, cpuPercentDuringProbes },
    redis: {
      before: memoryBefore,
      after: memoryAfter,
      perActionBytes: (memoryAfter - memoryBefore) / inFlight,
      bareDelayedJobBytes: await bareDelayedJobBytes(ctx, rig.count),
    },
    redisBytesPerActionByKeyKind: await memoryByKeyKind(ctx, rig.prefix, inFlight),
    historyBytesPerPoll,
    pollsPerAction: arcgis.counters.jobReads / inFlight,
    pollsPerSecond: polls / seconds,
    starts: { idleMs: idleStarts, busyMs: busyStarts },
    tokens: {
      minted: arcgis.counters.tokensMinted,
      windowMs: tokenWindowMs,
      vendorCalls: arcgis.requests.length,
      // The first token, then one each time RENEWED_AT of a lifetime has passed.
      bound: 1 + Math.floor(tokenWindowMs / (RENEWED_AT * TOKEN_LIFETIME_MS)),
    },
    jobCounts,
    logs: [await rig.web.stop(), await rig.worker.stop()],
  };
}

function scaleRows(run: ScaleRun): Row[] {
  const many = run.inFlight.toLocaleString('en-US');
  const { worker, redis, starts, tokens } = run;
  const perAction = redis.perActionBytes;
  const largest = Object.entries(run.redisBytesPerActionByKeyKind)
    .slice(0, 5)
    .map(([kind, bytes]) => `${kind} ${bytes} B`)
    .join(', ');
  return [
    {
      section: 'scale',
      figure: `worker RSS, peak, ${many} in flight`,
      value: worker.peak / MB,
      unit: 'MB',
      baseline: { name: 'same worker idle', value: worker.idle.rss / MB },
      ratio: worker.peak / worker.idle.rss,
      target: '< 200 MB',
      met: worker.peak < 200 * MB,
      note: `one opsbot process with roles [worker], compiled, run by node ${START_FLAGS.join(' ')} (npm start's flags); RSS at ${many} in flight ${(worker.loaded.rss / MB).toFixed(0)} MB, V8 heap ${(worker.heap.heapUsed / MB).toFixed(0)} MB used of ${(worker.heap.heapTotal / MB).toFixed(0)} MB, ${(worker.live.heapUsed / MB).toFixed(0)} MB live after a full GC (so the rest is heap V8 grew for garbage, not state kept per action)`,
    },
    {
      section: 'scale',
      figure: 'Redis memory per in-flight action',
      value: perAction / 1024,
      unit: 'KB',
      baseline: { name: 'bare BullMQ delayed job', value: redis.bareDelayedJobBytes / 1024 },
      ratio: perAction / redis.bareDelayedJobBytes,
      target: '< 5 KB',
      met: perAction < 5 * 1024,
      note: `used_memory delta ${((redis.after - redis.before) / MB).toFixed(1)} MB ÷ ${many} after ${run.pollsPerAction.toFixed(1)} polls each${Number.isFinite(run.historyBytesPerPoll) ? `; the audit stream and timelines grow by ${run.historyBytesPerPoll.toFixed(0)} bytes per poll while actions wait` : ''}; largest parts per action: ${largest}`,
    },
    {
      section: 'scale',
      figure: `new action starts (approve → vendor submit), ${many} in flight`,
      value: median(starts.busyMs),
      unit: 'ms',
      baseline: { name: 'none in flight', value: median(starts.idleMs) },
      ratio: median(starts.busyMs) / median(starts.idleMs),
      target: '< 1,000 ms',
      met: Math.max(...starts.busyMs) < 1000,
      runs: starts.busyMs,
      note: `median of ${PROBES} probes (max ${Math.max(...starts.busyMs).toFixed(0)} ms); every action polls every ${POLL_INTERVAL}: ${run.pollsPerSecond.toFixed(0)} polls/s, worker CPU ${worker.cpuPercentDuringProbes.toFixed(0)}% during the probes; ${many} in flight reached in ${run.rampSeconds.toFixed(0)} s`,
    },
    {
      section: 'scale',
      figure: `vendor tokens minted, ${many} concurrent actions on one target`,
      value: tokens.minted,
      unit: '',
      baseline: { name: 'one per lifetime', value: tokens.bound },
      ratio: tokens.minted / tokens.bound,
      target: '≤ 1 per lifetime',
      met: tokens.minted <= tokens.bound,
      note: `the simulator's tokens live ${TOKEN_LIFETIME_MS / 1000} s; over ${(tokens.windowMs / 1000).toFixed(0)} s and ${tokens.vendorCalls.toLocaleString('en-US')} vendor calls, the first token plus one renewal each ${RENEWED_AT * 100}% of a lifetime allows ${tokens.bound}`,
    },
  ];
}

function countThreadReplies(slack: FakeSlack, text: string): number {
  let count = 0;
  for (const message of slack.messages) if (message.thread_ts && message.text.includes(text)) count += 1;
  return count;
}

/** Bytes held by the audit stream and every request's timeline (what grows with time in flight). */
async function historyBytes(ctx: BenchContext, prefix: string): Promise<number> {
  const ids = await ctx.redis.client.zrange(`${prefix}:requests`, '0', '-1');
  const pipeline = ctx.redis.client.pipeline();
  pipeline.memory('USAGE', `${prefix}:audit`, 'SAMPLES', '0');
  for (const id of ids) pipeline.memory('USAGE', `${prefix}:req:${id}:timeline`, 'SAMPLES', '0');
  const sizes = (await pipeline.exec()) ?? [];
  return sum(sizes.map(([, bytes]) => Number(bytes ?? 0)));
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
        .replace(/:\d+$/, ':<n>')
        // Any other segment that carries an id (a Slack trigger id, a timestamp…).
        .replace(/:[^:<]*\d[^:<]{7,}/g, ':<id>');
      totals.set(kind, (totals.get(kind) ?? 0) + Number(sizes[i]?.[1] ?? 0));
    });
  } while (cursor !== '0');
  return Object.fromEntries(
    [...totals]
      .sort((a, b) => b[1] - a[1])
      .map(([kind, bytes]) => [kind, Math.round(bytes / actions)] as const)
      .filter(([, bytes]) => bytes > 0),
  );
}
