import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { type FakeSlack, type FakeSlackMessage, startFakeSlack } from '../../src/devtools/fake-slack.js';
import { type SlackPeer, sendButtonClick, sendSlashCommand } from '../../src/devtools/slack-requests.js';
import { RequestStore } from '../../src/requests/store.js';
import type { OpsRequest } from '../../src/requests/types.js';
import { APPROVE_ACTION } from '../../src/slack/blocks.js';
import type { ArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import type { EceSimulator } from '../../src/vendors/ece/simulator.js';
import { type BotProcess, startBotProcess, writeConfigFile } from '../support/bot-process.js';
import { CHANNEL, deleteKeys, USERS, waitFor } from '../support/harness.js';

/**
 * Several real opsbot processes (web and worker roles) on one Redis, with the fake Slack and a
 * vendor simulator in the test process: the rig for fault injection.
 */

export interface Cluster {
  slack: FakeSlack;
  store: RequestStore;
  redis: Redis;
  processes: BotProcess[];
  start(name: string, roles: Array<'web' | 'worker'>): Promise<BotProcess>;
  /** How to send signed requests to a web process as Slack does (for replays and retries). */
  peer(web: BotProcess): SlackPeer;
  /** A request's approval message (the thread root), once posted. */
  root(requestId: string): FakeSlackMessage | undefined;
  /** Sends `/ops <text>` to a web process and returns the new request id. */
  request(web: BotProcess, text: string): Promise<string>;
  approve(web: BotProcess, requestId: string, user?: string): Promise<number>;
  requests(ids: string[]): Promise<OpsRequest[]>;
  thread(requestId: string): FakeSlackMessage[];
  /** The update keys of a request's thread replies, in order. */
  updateKeys(requestId: string): string[];
  stop(): Promise<void>;
}

export async function startCluster(options: {
  arcgis: ArcgisSimulator;
  redisUrl?: string;
  approvalTimeout?: string;
  pollInterval?: string;
  /** Poll deadline of arcgis.deployment.refresh. Default 2m. */
  deadline?: string;
  /** The ArcGIS target's per-call timeouts, e.g. `{ connect: '1s', request: '1s' }`. */
  vendorTimeouts?: { connect?: string; request?: string };
  /** Also an ECE target, `prod`, on this simulator (restarts polled like the ArcGIS refresh). */
  ece?: EceSimulator;
  /** `worker.*` overrides (lockDuration, stalledInterval, concurrency, reconcileEvery…). */
  worker?: Record<string, string | number>;
  /** More of the `policy` section (roles, defaults…) over the rig's own. */
  policy?: Record<string, unknown>;
  /** Settings of arcgis.deployment.refresh (approvals, requesterMayApprove…) over the fast timing. */
  refreshPolicy?: Record<string, unknown>;
}): Promise<Cluster> {
  const redisUrl = options.redisUrl ?? inject('redisUrl');
  const prefix = `f${randomBytes(5).toString('hex')}`;
  const botToken = `xoxb-fault-${randomBytes(10).toString('hex')}`;
  const signingSecret = randomBytes(16).toString('hex');
  const slack = await startFakeSlack({ botToken });
  const env = {
    SLACK_BOT_TOKEN: botToken,
    SLACK_SIGNING_SECRET: signingSecret,
    ARCGIS_PASSWORD: options.arcgis.password,
    ...(options.ece ? { ECE_API_KEY: options.ece.credentials.apiKey } : {}),
  };
  const timing = {
    pollInterval: options.pollInterval ?? '50ms',
    firstPollDelay: '20ms',
    deadline: options.deadline ?? '2m',
  };
  const configPath = writeConfigFile({
    slack: {
      botToken: { env: 'SLACK_BOT_TOKEN' },
      signingSecret: { env: 'SLACK_SIGNING_SECRET' },
      apiUrl: slack.apiUrl,
      perChannelPerSecond: 500,
      burst: 100,
      updatesPerMinute: 30_000,
      botUserId: 'UOPSBOT01',
      botId: 'B0OPSBOT1',
    },
    redis: { url: redisUrl, prefix },
    server: { host: '127.0.0.1' },
    worker: {
      lockDuration: '2s',
      stalledInterval: '1s',
      shutdownGrace: '3s',
      concurrency: 20,
      ...options.worker,
    },
    log: { level: 'info' },
    targets: {
      arcgis: {
        prod: {
          url: options.arcgis.url,
          username: options.arcgis.username,
          password: { env: 'ARCGIS_PASSWORD' },
          ...(options.vendorTimeouts ? { timeouts: options.vendorTimeouts } : {}),
        },
      },
      ...(options.ece ? { ece: { prod: { url: options.ece.url, apiKey: { env: 'ECE_API_KEY' } } } } : {}),
    },
    policy: {
      channels: [CHANNEL],
      approvalTimeout: options.approvalTimeout ?? '15m',
      defaults: {
        requesters: { users: [USERS.requester] },
        approvers: { users: [USERS.approver, USERS.groupApprover, USERS.requester] },
      },
      actions: {
        'arcgis.deployment.refresh': { ...timing, ...options.refreshPolicy },
        'ece.resource.restart': timing,
      },
      ...options.policy,
    },
  });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const store = new RequestStore(redis, prefix);
  const processes: BotProcess[] = [];
  const seen = new Set<string>();
  const requestIdOf = (m: FakeSlackMessage) =>
    (m.metadata as { event_payload?: { request_id?: string } } | undefined)?.event_payload?.request_id;
  const root = (requestId: string) =>
    slack.messages.find((m) => !m.thread_ts && !m.ephemeralTo && requestIdOf(m) === requestId);

  return {
    slack,
    store,
    redis,
    processes,
    start: async (name, roles) => {
      const started = await startBotProcess({ name, configPath, env, roles });
      processes.push(started);
      return started;
    },
    peer: (web) => ({ botUrl: web.url, signingSecret }),
    root,
    request: async (web, text) => {
      await sendSlashCommand(
        { botUrl: web.url, signingSecret },
        {
          command: '/ops',
          text,
          userId: USERS.requester,
          channelId: CHANNEL,
          responseUrl: slack.responseUrl(USERS.requester, CHANNEL),
        },
      );
      let id: string | undefined;
      await waitFor(() => {
        const fresh = slack.messages.find(
          (m) => !m.thread_ts && !m.ephemeralTo && !seen.has(m.ts) && requestIdOf(m),
        );
        if (fresh) {
          seen.add(fresh.ts);
          id = requestIdOf(fresh);
        }
        return id !== undefined;
      }, `the approval message for "${text}"`);
      return id!;
    },
    approve: async (web, requestId, user = USERS.approver) => {
      const message = root(requestId);
      if (!message) throw new Error(`no approval message for ${requestId}`);
      const sent = await sendButtonClick(
        { botUrl: web.url, signingSecret },
        {
          actionId: APPROVE_ACTION,
          value: requestId,
          userId: user,
          channelId: CHANNEL,
          messageTs: message.ts,
          responseUrl: slack.responseUrl(user, CHANNEL),
        },
      );
      return sent.status;
    },
    requests: async (ids) => Promise.all(ids.map(async (id) => (await store.get(id))!)),
    thread: (requestId) => {
      const message = root(requestId);
      return message ? slack.thread(CHANNEL, message.ts) : [];
    },
    updateKeys: (requestId) => {
      const message = root(requestId);
      if (!message) return [];
      return slack
        .thread(CHANNEL, message.ts)
        .map(
          (m) =>
            (m.metadata as { event_payload?: { update?: string } } | undefined)?.event_payload?.update ?? '?',
        );
    },
    stop: async () => {
      await Promise.all(processes.map((p) => p.crash()));
      await slack.close();
      await deleteKeys(redis, prefix).catch(() => {});
      redis.disconnect();
    },
  };
}

/** The invariant every fault test checks: one final state, one submission, every update once, in order. */
export function checkInvariant(
  cluster: Cluster,
  arcgis: ArcgisSimulator,
  requests: OpsRequest[],
  deploymentOf: (request: OpsRequest) => string,
): void {
  for (const request of requests) {
    const where = `${request.id} (${request.state})`;
    if (request.phase !== 'done') throw new Error(`${where} did not reach a final state`);
    const submissions = arcgis.counters.refreshCalls[deploymentOf(request)] ?? 0;
    if (submissions !== 1) throw new Error(`${where} was submitted ${submissions} times`);
    const keys = cluster.updateKeys(request.id);
    if (new Set(keys).size !== keys.length)
      throw new Error(`${where} has a repeated thread update: ${keys.join(', ')}`);
    if (keys[0] !== 'submitted' || keys.at(-1) !== 'final')
      throw new Error(`${where} thread out of order: ${keys.join(', ')}`);
    const progress = keys
      .filter((k) => k.startsWith('progress-'))
      .map((k) => Number(k.slice('progress-'.length)));
    if (progress.some((n, i) => n !== i + 2))
      throw new Error(`${where} progress updates out of order: ${keys.join(', ')}`);
  }
}
