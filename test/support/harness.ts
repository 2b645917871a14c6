import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';
import { type Opsbot, startOpsbot } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { type FakeSlack, type FakeSlackMessage, startFakeSlack } from '../../src/devtools/fake-slack.js';
import {
  buttonClickPayload,
  type SlackPeer,
  sendButtonClick,
  sendSlashCommand,
  sendViewSubmission,
  slashCommandFields,
  viewSubmissionPayload,
} from '../../src/devtools/slack-requests.js';
import { createRedis } from '../../src/jobs/queues.js';
import { createLogger } from '../../src/log.js';
import { APPROVE_ACTION, CANCEL_ACTION, REJECT_ACTION } from '../../src/slack/blocks.js';
import type { ArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';

/**
 * The whole bot for a test: real Redis (own key prefix), a fake Slack Web API, and opsbot started
 * from a config document exactly as production starts it. Tests talk to it only as Slack does,
 * with signed HTTP requests (or Socket Mode envelopes), and read what it did from the fake Slack
 * and Redis.
 */

export const USERS = {
  requester: 'U0REQUEST1',
  approver: 'U0APPROVE1',
  /** In the approvers' user group, not listed by id. */
  groupApprover: 'U0GROUPAP1',
  outsider: 'U0OUTSIDE1',
} as const;
export const CHANNEL = 'C0OPSCHAN1';
/** A second channel, open to opsbot only when a test's `policy` says so. */
export const OTHER_CHANNEL = 'C0OTHERCH1';
export const APPROVER_GROUP = 'S0APPROVER';

export interface HarnessOptions {
  /** Vendor targets, as in the config file (secrets as `{ env: NAME }`). */
  targets: Record<string, Record<string, unknown>>;
  /** Extra environment for secret references. */
  env?: Record<string, string>;
  /** Per-action policy overrides (merged over fast test timings). */
  actions?: Record<string, Record<string, unknown>>;
  approvalTimeout?: string;
  slackRateLimit?: { perSecond: number; burst: number };
  /** Whether the fake Slack app's Messages tab is on (default true): off, it refuses DMs. */
  slackMessagesTab?: boolean;
  /** Redis URL to use instead of the suite's private server. */
  redisUrl?: string;
  /**
   * The whole `redis` config section (`sentinel` or `cluster`) instead of a URL; the key prefix
   * is then hash-tagged (`{t…}`), as Cluster needs.
   */
  redis?: Record<string, unknown>;
  roles?: Array<'web' | 'worker'>;
  /** Key prefix, to share one opsbot's Redis state with another harness (default: a fresh one). */
  prefix?: string;
  /** `worker.reconcileEvery` (default 15s). */
  reconcileEvery?: string;
  /** The `audit` config section (`retention`, `sealEvery`). */
  audit?: Record<string, unknown>;
  /** `policy.auditors` (default: nobody). */
  auditors?: { users?: string[]; groups?: string[] };
  /** More of the `policy` section (roles, channels, defaults…), over the harness's own. */
  policy?: Record<string, unknown>;
  /** The `dashboard` config section (secrets as `{ env: NAME }`, given in `env`). */
  dashboard?: Record<string, unknown>;
  /** More of the `server` section (`opsPort`, `queueMetricsMaxAge`…); it listens on 127.0.0.1. */
  server?: Record<string, unknown>;
  /**
   * Socket Mode instead of HTTP: the bot gets an app-level token and no signing secret, connects
   * to the fake Slack's Socket Mode endpoint, and commands and clicks reach it as envelopes there.
   */
  socketMode?: boolean;
}

/** Options for one ArcGIS target, `prod`, on a simulator (its password comes from the environment). */
export function arcgisProd(arcgis: ArcgisSimulator): Pick<HarnessOptions, 'env' | 'targets'> {
  return {
    env: { ARCGIS_PASSWORD: arcgis.password },
    targets: {
      arcgis: { prod: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } } },
    },
  };
}

export interface Harness {
  opsbot: Opsbot;
  slack: FakeSlack;
  redis: Redis | Cluster;
  prefix: string;
  secrets: string[];
  logLines: string[];
  /** Sends a signed slash command (in CHANNEL unless told); answers the HTTP status and body of the ack. */
  command(
    user: string,
    text: string,
    channel?: string,
  ): Promise<{ status: number; body: string; responseUrl: string }>;
  /**
   * Clicks a button of a request's approval message, as Slack sends it, with a trigger_id the fake
   * Slack issued just now; `forged` replaces what the payload says of where the click came from (a
   * replayed or crafted payload), or its trigger_id (an expired or used one).
   */
  click(
    user: string,
    action: 'approve' | 'reject' | 'cancel',
    requestId: string,
    forged?: { value?: string; channelId?: string; messageTs?: string; triggerId?: string },
  ): Promise<number>;
  /**
   * Waits for the modal a click opened for `user` and submits it as Slack does, with `values`
   * typed in its inputs (by block id). Answers what the person then sees: the modal closed, or
   * still open with the errors opsbot answered (by block id), ready to be submitted again.
   */
  submitModal(user: string, values: Record<string, string>): Promise<ModalAnswer>;
  /** The approval message of a request (found by its request id), once posted. */
  root(requestId: string): FakeSlackMessage | undefined;
  thread(requestId: string): FakeSlackMessage[];
  ephemerals(user: string): FakeSlackMessage[];
  /**
   * Sends a slash command (in CHANNEL unless told), expects Slack's 200, and answers the first
   * private answer it got.
   */
  ask(user: string, text: string, channel?: string): Promise<FakeSlackMessage>;
  /** Waits for the bot to post a new approval message and returns its request id. */
  nextRequestId(): Promise<string>;
  stop(): Promise<void>;
}

export interface ModalAnswer {
  closed: boolean;
  errors: Record<string, string>;
}

const ACTION_IDS = { approve: APPROVE_ACTION, reject: REJECT_ACTION, cancel: CANCEL_ACTION } as const;

const FAST_TIMING = { pollInterval: '30ms', firstPollDelay: '20ms', deadline: '20s' };

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const tag = `t${randomBytes(5).toString('hex')}`;
  const prefix = options.prefix ?? (options.redis ? `{${tag}}` : tag);
  const botToken = `xoxb-test-${randomBytes(12).toString('hex')}`;
  const signingSecret = randomBytes(16).toString('hex');
  const appToken = `xapp-test-${randomBytes(12).toString('hex')}`;
  const slack = await startFakeSlack({
    botToken,
    appToken,
    userGroups: { [APPROVER_GROUP]: [USERS.groupApprover] },
    rateLimit: options.slackRateLimit,
    messagesTab: options.slackMessagesTab,
  });
  const env = {
    SLACK_BOT_TOKEN: botToken,
    ...(options.socketMode ? { SLACK_APP_TOKEN: appToken } : { SLACK_SIGNING_SECRET: signingSecret }),
    ...options.env,
  };
  const actionIds = [
    'arcgis.deployment.refresh',
    'arcgis.groups.refresh',
    'ece.resource.restart',
    'workspace.server.reinstall',
    'cckm.dsm.refresh',
    'cckm.dsm.refresh-status',
  ];
  const actions = Object.fromEntries(
    actionIds.map((id) => [id, { ...FAST_TIMING, ...options.actions?.[id] }]),
  );
  const config = loadConfig({
    env,
    document: {
      slack: {
        botToken: { env: 'SLACK_BOT_TOKEN' },
        ...(options.socketMode
          ? { appToken: { env: 'SLACK_APP_TOKEN' } }
          : { signingSecret: { env: 'SLACK_SIGNING_SECRET' } }),
        apiUrl: slack.apiUrl,
        burst: 50,
        perChannelPerSecond: 200,
        updatesPerMinute: 12_000,
      },
      redis: { ...(options.redis ?? { url: options.redisUrl ?? inject('redisUrl') }), prefix },
      server: { port: 0, host: '127.0.0.1', ...options.server },
      roles: options.roles ?? ['web', 'worker'],
      worker: {
        shutdownGrace: '2s',
        ...(options.reconcileEvery ? { reconcileEvery: options.reconcileEvery } : {}),
      },
      targets: options.targets,
      policy: {
        channels: [CHANNEL],
        approvalTimeout: options.approvalTimeout ?? '15m',
        defaults: {
          requesters: { users: [USERS.requester, USERS.approver] },
          approvers: { users: [USERS.approver, USERS.requester], groups: [APPROVER_GROUP] },
        },
        actions,
        ...(options.auditors ? { auditors: options.auditors } : {}),
        ...options.policy,
      },
      ...(options.dashboard ? { dashboard: options.dashboard } : {}),
      ...(options.audit ? { audit: options.audit } : {}),
    },
  });
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const log = createLogger({ level: 'debug', destination: sink });
  const opsbot = await startOpsbot(config, { log });
  const redis = options.redis
    ? createRedis(config.redis, { blocking: true })
    : new Redis(options.redisUrl ?? inject('redisUrl'));
  const peer: SlackPeer = { botUrl: opsbot.url, signingSecret };
  const seenRoots = new Set<string>();
  const redisPassword = options.redisUrl ? decodeURIComponent(new URL(options.redisUrl).password) : '';
  const secrets = [botToken, signingSecret, appToken, redisPassword, ...Object.values(options.env ?? {})];

  const roots = () => slack.messages.filter((m) => m.channel === CHANNEL && !m.thread_ts && !m.ephemeralTo);
  const requestIdOf = (message: FakeSlackMessage) =>
    (message.metadata as { event_payload?: { request_id?: string } } | undefined)?.event_payload?.request_id;
  const root = (requestId: string) => roots().find((m) => requestIdOf(m) === requestId);

  const command: Harness['command'] = async (user, text, channel = CHANNEL) => {
    const responseUrl = slack.responseUrl(user, channel);
    const input = { command: '/ops', text, userId: user, channelId: channel, responseUrl };
    if (options.socketMode) {
      // The ack on the socket stands for Slack's HTTP 200, its payload for the body.
      const ack = await slack.socketMode.send('slash_commands', slashCommandFields(input));
      return { status: 200, body: JSON.stringify(ack.payload ?? {}), responseUrl };
    }
    const sent = await sendSlashCommand(peer, input);
    return { status: sent.status, body: sent.body, responseUrl };
  };
  const ephemerals = (user: string) => slack.messages.filter((m) => m.ephemeralTo === user);

  return {
    opsbot,
    slack,
    redis,
    prefix,
    secrets,
    logLines,
    command,
    ask: async (user, text, channel = CHANNEL) => {
      const before = ephemerals(user).length;
      const sent = await command(user, text, channel);
      if (sent.status !== 200) throw new Error(`/ops ${text} answered HTTP ${sent.status}`);
      await waitFor(() => ephemerals(user).length > before, `an answer to "${text}"`);
      return ephemerals(user)[before]!;
    },
    click: async (user, action, requestId, forged = {}) => {
      const message = root(requestId);
      if (!message) throw new Error(`no approval message for ${requestId}`);
      const channelId = forged.channelId ?? CHANNEL;
      const input = {
        actionId: ACTION_IDS[action],
        value: forged.value ?? requestId,
        userId: user,
        channelId,
        messageTs: forged.messageTs ?? message.ts,
        responseUrl: slack.responseUrl(user, channelId),
        triggerId: forged.triggerId ?? slack.triggerId(user),
      };
      if (options.socketMode) {
        await slack.socketMode.send('interactive', buttonClickPayload(input));
        return 200;
      }
      return (await sendButtonClick(peer, input)).status;
    },
    submitModal: async (user, values) => {
      const opened = () => slack.views.find((view) => view.user === user && !view.closed);
      await waitFor(() => opened() !== undefined, `a modal opened for ${user}`);
      const view = opened()!;
      const input = { userId: user, view, values };
      const answer = options.socketMode
        ? ((await slack.socketMode.send('interactive', viewSubmissionPayload(input))).payload ?? {})
        : await sendViewSubmission(peer, input).then(({ status, body }) => {
            // Slack keeps the modal open with an error of its own when the app answers otherwise.
            if (status !== 200) throw new Error(`opsbot answered a view submission with HTTP ${status}`);
            return body ? JSON.parse(body) : {};
          });
      const { response_action: action, errors = {} } = answer as {
        response_action?: string;
        errors?: Record<string, string>;
      };
      const closed = action !== 'errors';
      if (closed) slack.closeView(view.id);
      return { closed, errors };
    },
    root,
    thread: (requestId) => {
      const message = root(requestId);
      return message ? slack.thread(CHANNEL, message.ts) : [];
    },
    ephemerals,
    nextRequestId: async () => {
      let found: string | undefined;
      await waitFor(() => {
        const fresh = roots().find((m) => !seenRoots.has(m.ts));
        if (fresh) {
          seenRoots.add(fresh.ts);
          found = requestIdOf(fresh);
        }
        return found !== undefined;
      }, 'an approval message');
      return found!;
    },
    stop: async () => {
      await opsbot.stop();
      await slack.close();
      await deleteKeys(redis, prefix);
      redis.disconnect();
      assertNoSecretLeaked(secrets, logLines, slack);
    },
  };
}

/**
 * Every test that uses the harness ends by scanning everything the bot logged and everything it
 * sent to Slack for every configured secret value.
 */
function assertNoSecretLeaked(secrets: string[], logLines: string[], slack: FakeSlack): void {
  const traffic = [
    ...logLines,
    ...slack.calls.map((call) => JSON.stringify(call.args)),
    ...slack.messages.map((message) => JSON.stringify(message)),
  ].join('\n');
  for (const secret of secrets) {
    if (secret.length >= 6 && traffic.includes(secret)) {
      throw new Error(
        `a configured secret (${secret.slice(0, 3)}…) appeared in the logs or in Slack traffic`,
      );
    }
  }
}

/** Removes every key under a prefix (tests share one Redis and clean up after themselves). */
export async function deleteKeys(redis: Redis | Cluster, prefix: string): Promise<void> {
  // SCAN sees one node's keys: on a Cluster, ask every master.
  for (const node of redis instanceof Cluster ? redis.nodes('master') : [redis]) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await node.del(...keys);
    } while (cursor !== '0');
  }
}

/** Polls until `check` holds; fails naming what it waited for. Tests never assert on time. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** All the text a person would read in a message: its fallback text and every block's text. */
export function textOf(message: FakeSlackMessage | undefined): string {
  if (!message) return '';
  return `${message.text}\n${JSON.stringify(message.blocks ?? [])}`;
}
