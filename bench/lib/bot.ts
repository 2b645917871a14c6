import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { type SlackPeer, sendButtonClick, sendSlashCommand } from '../../src/devtools/slack-requests.js';
import { RequestStore } from '../../src/requests/store.js';
import { APPROVE_ACTION } from '../../src/slack/blocks.js';
import type { ArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { closedLoop, until } from './load.js';
import { type Child, startChild } from './processes.js';
import { APPROVER, BENCH_SLACK, CHANNEL, REQUESTER, type RootMessage, type SlackWatch } from './slack.js';

/**
 * opsbot as the bench runs it: in its own process (bench/children/bot.ts), started with
 * `startOpsbot` from a config document exactly as production loads one, logging at info to a file
 * whose warnings and errors are counted afterwards. The parent talks to it only over HTTP, with
 * signed requests as Slack sends them.
 */

export const REFRESH_ACTION = 'arcgis.deployment.refresh';

/**
 * The Node flags of opsbot's production start command (`npm start`, package.json), so the bench
 * runs it as it is deployed (heap limits in particular change its memory).
 */
export const START_FLAGS: string[] = startFlags();

function startFlags(): string[] {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const words = (manifest.scripts?.start ?? '').split(/\s+/);
  return words.slice(words.indexOf('node') + 1).filter((word) => word.startsWith('--'));
}

/**
 * Pacing raised far beyond what the fake Slack needs, for sections that measure opsbot's own
 * throughput (every message goes to one channel; that fake Slack enforces no limit).
 */
export const UNPACED = { perChannelPerSecond: 100_000, burst: 100_000, updatesPerMinute: 6_000_000 };

export interface BotOptions {
  slackApiUrl: string;
  redisUrl: string;
  prefix: string;
  arcgis: ArcgisSimulator;
  roles?: Array<'web' | 'worker'>;
  /** Per-channel pacing; the bot's defaults (1/s, burst 3) unless given. */
  pacing?: { perChannelPerSecond: number; burst: number; updatesPerMinute?: number } | undefined;
  /** Timing of the refresh action (`5ms`, `30s`…); the action's defaults unless given. */
  timing?: { pollInterval?: string; firstPollDelay?: string; deadline?: string } | undefined;
  /** Compiled children of another build to run instead of this checkout's (`--compare`). */
  childrenDir?: string | undefined;
}

/** The config document, as `opsbot.yml` would hold it (secrets as environment references). */
export function botDocument(options: BotOptions): Record<string, unknown> {
  return {
    slack: {
      botToken: { env: 'SLACK_BOT_TOKEN' },
      signingSecret: { env: 'SLACK_SIGNING_SECRET' },
      apiUrl: options.slackApiUrl,
      botId: BENCH_SLACK.botId,
      botUserId: BENCH_SLACK.botUserId,
      ...options.pacing,
    },
    redis: { url: options.redisUrl, prefix: options.prefix },
    server: { port: 0, host: '127.0.0.1' },
    roles: options.roles ?? ['web', 'worker'],
    worker: { shutdownGrace: '5s' },
    targets: {
      arcgis: {
        prod: {
          url: options.arcgis.url,
          username: options.arcgis.username,
          password: { env: 'ARCGIS_PASSWORD' },
        },
      },
    },
    policy: {
      channels: [CHANNEL],
      defaults: { requesters: { users: ['*'] }, approvers: { users: [APPROVER] } },
      actions: { [REFRESH_ACTION]: { ...options.timing } },
    },
    log: { level: 'info' },
  };
}

export interface LogSummary {
  lines: number;
  warnings: number;
  errors: number;
  /** A few distinct warning and error messages. */
  samples: string[];
}

export interface BotProcess {
  url: string;
  peer: SlackPeer;
  child: Child;
  /** Stops the bot and summarizes its log (once; later calls answer the same summary). */
  stop(): Promise<LogSummary>;
}

export async function startBot(options: BotOptions): Promise<BotProcess> {
  const logFile = join(tmpdir(), `opsbot-bench-${randomBytes(6).toString('hex')}.log`);
  const child = await startChild(
    'bot',
    {
      type: 'start',
      document: botDocument(options),
      env: {
        SLACK_BOT_TOKEN: BENCH_SLACK.botToken,
        SLACK_SIGNING_SECRET: BENCH_SLACK.signingSecret,
        ARCGIS_PASSWORD: options.arcgis.password,
      },
      logFile,
    },
    { nodeFlags: START_FLAGS, dir: options.childrenDir },
  );
  const url = String(child.ready.url);
  let stopped: Promise<LogSummary> | undefined;
  return {
    url,
    peer: { botUrl: url, signingSecret: BENCH_SLACK.signingSecret },
    child,
    stop: () => {
      stopped ??= child.stop().then(() => {
        const summary = summarizeLog(logFile);
        rmSync(logFile, { force: true });
        return summary;
      });
      return stopped;
    },
  };
}

function summarizeLog(file: string): LogSummary {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { lines: 0, warnings: 0, errors: 0, samples: [] };
  }
  const summary: LogSummary = { lines: 0, warnings: 0, errors: 0, samples: [] };
  for (const line of text.split('\n')) {
    if (!line) continue;
    summary.lines += 1;
    const level = /"level":"(\w+)"/.exec(line)?.[1];
    if (level === 'warn') summary.warnings += 1;
    if (level === 'error' || level === 'fatal') summary.errors += 1;
    if ((level === 'warn' || level === 'error' || level === 'fatal') && summary.samples.length < 5) {
      const message = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 200);
      if (!summary.samples.includes(message)) summary.samples.push(message);
    }
  }
  return summary;
}

/** `/ops arcgis refresh-deployment <id>` from the requester, signed as Slack signs it. */
export async function requestRefresh(
  peer: SlackPeer,
  deploymentId: string,
  responseUrl: string,
  channelId = CHANNEL,
): Promise<number> {
  const sent = await sendSlashCommand(peer, {
    command: '/ops',
    text: `arcgis refresh-deployment ${deploymentId}`,
    userId: REQUESTER,
    channelId,
    responseUrl,
  });
  return sent.status;
}

/** The approver clicks Approve on an approval message. */
export async function approve(
  peer: SlackPeer,
  root: { requestId: string; ts: string; channel: string },
  responseUrl: string,
): Promise<number> {
  const sent = await sendButtonClick(peer, {
    actionId: APPROVE_ACTION,
    value: root.requestId,
    userId: APPROVER,
    channelId: root.channel,
    messageTs: root.ts,
    responseUrl,
  });
  return sent.status;
}

/**
 * Requests a refresh of every deployment (`concurrency` slash commands at a time) and has the
 * approver click Approve on each approval message as soon as it appears, as people would.
 * Resolves with the approval messages once every one shows the approval.
 */
export async function requestAndApprove(
  peer: SlackPeer,
  watch: SlackWatch,
  deploymentIds: string[],
  concurrency: number,
  timeoutMs = 600_000,
): Promise<RootMessage[]> {
  const roots: RootMessage[] = [];
  const clicks: Array<Promise<void>> = [];
  watch.onRoot((root) => {
    roots.push(root);
    clicks.push(
      approve(peer, root, watch.slack.responseUrl(APPROVER, root.channel)).then((status) => {
        if (status !== 200) throw new Error(`approve click answered ${status}`);
      }),
    );
  });
  try {
    await closedLoop(deploymentIds.length, concurrency, async (i) => {
      const status = await requestRefresh(
        peer,
        deploymentIds[i]!,
        watch.slack.responseUrl(REQUESTER, CHANNEL),
      );
      if (status !== 200) throw new Error(`slash command answered ${status}`);
    });
    await until(() => roots.length >= deploymentIds.length, 'the approval messages', timeoutMs, 50);
    await Promise.all(clicks);
    await until(() => roots.every((root) => root.updates >= 1), 'the approvals shown', timeoutMs, 50);
    return roots;
  } finally {
    watch.onRoot(undefined);
  }
}

/**
 * Status changes per request, read from the timelines opsbot keeps: approved, submitted (the
 * vendor's first status) and every later change of the vendor status.
 */
export async function statusChangesPerAction(
  redis: Redis,
  prefix: string,
  requestIds: string[],
): Promise<number> {
  const store = new RequestStore(redis, prefix);
  const timelines = await Promise.all(requestIds.map((id) => store.timeline(id)));
  const changes = timelines
    .flat()
    .filter((event) => event.kind === 'approved' || event.kind === 'submitted' || event.kind === 'status');
  return changes.length / requestIds.length;
}
