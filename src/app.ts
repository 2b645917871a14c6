import type { EventEmitter } from 'node:events';
import { App, ExpressReceiver } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import express from 'express';
import type { Logger } from 'pino';
import { Calendar } from './calendar/calendar.js';
import { registerApprovalButtons } from './commands/approval-buttons.js';
import { registerOpsCommand } from './commands/ops-command.js';
import { registerReasonButtons } from './commands/reason-buttons.js';
import { registerReasonSubmissions } from './commands/reason-submissions.js';
import type { Config } from './config/load.js';
import { scrubSecrets } from './config/secret.js';
import { queueDashboard } from './http/dashboard.js';
import { healthRoutes } from './http/health.js';
import { Listener } from './http/listener.js';
import { createInlineDelivery, type DeliverDeps, type DeliverNow } from './jobs/deliver-slack.js';
import { createRedis } from './jobs/queues.js';
import { startWorkers, type Workers } from './jobs/workers.js';
import { createLogger } from './log.js';
import { auditVendorCall } from './observability/audit.js';
import { Metrics } from './observability/metrics.js';
import { QueueFigures } from './observability/queue-figures.js';
import { RequestLifecycle } from './requests/lifecycle.js';
import { Policy } from './requests/policy.js';
import type { RequestStore } from './requests/store.js';
import { boltLogger } from './slack/bolt-logger.js';
import { ChannelPacer } from './slack/pacer.js';
import { SlackWriter } from './slack/writer.js';
import { connectState, type State, untilRedisReady } from './state.js';
import { VendorClients } from './vendors/clients.js';

/**
 * Wiring only: build every part from the config, start the roles this process has, and stop
 * them in order. Behaviour lives in the modules named here.
 */

export interface Opsbot {
  /** Base URL of the HTTP server: `/slack/events`, and the ops routes unless they have their own. */
  url: string;
  /** Base URL of `/healthz`, `/readyz`, `/metrics` and the dashboard: `url` unless `server.opsPort` is set. */
  opsUrl: string;
  log: Logger;
  metrics: Metrics;
  store: RequestStore;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
}

export async function startOpsbot(config: Config, options: StartOptions = {}): Promise<Opsbot> {
  const log = options.log ?? createLogger({ level: config.log.level });
  const metrics = new Metrics();
  const isWeb = config.roles.includes('web');
  const isWorker = config.roles.includes('worker');

  const connect = (patient: boolean) =>
    connectState({
      connection: config.redis,
      prefix: config.redis.prefix,
      patient,
      retentionMs: config.audit.retention,
      onAudit: (record) => log.info({ audit: record }, 'audit'),
    });
  const webState = isWeb ? connect(false) : undefined;
  const workerState = isWorker ? connect(true) : undefined;
  // The BullMQ workers' own connection (they duplicate it for their blocking reads).
  const workerConnection = isWorker ? createRedis(config.redis, { blocking: true }) : undefined;
  const state = (webState ?? workerState)!;
  for (const { redis, queues } of [webState, workerState].filter((s) => s !== undefined)) {
    // Connection errors while Redis is away are expected (ioredis reconnects by itself); without
    // listeners BullMQ prints each one with a stack trace. One quiet log line each instead.
    const emitters: EventEmitter[] = [redis, ...queues.all];
    for (const emitter of emitters) {
      emitter.on('error', (error: Error) => log.debug({ err: error.message }, 'Redis connection error'));
    }
    await untilRedisReady(redis, () => log.warn('waiting for Redis to accept connections'));
  }
  const slack = new WebClient(config.slack.botToken.reveal(), {
    slackApiUrl: config.slack.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    logger: boltLogger(log),
  });
  const clients = new VendorClients(config.targets, log, (call, scope) => {
    metrics.observeVendorCall(call);
    auditVendorCall((workerState ?? state).store, call, scope, log);
  });
  for (const { target, warning } of clients.insecureTargets()) log.warn({ target }, warning);
  const policy = new Policy(config, slack);

  /** The freezes, locks and schedules (src/calendar/) on one role's connection. */
  // One Calendar per connection state (metrics, the web role and the worker role may share one):
  // building it parses every declared freeze's scope and cron expression again.
  const calendars = new Map<State, Calendar>();
  const calendarOn = (state: State): Calendar => {
    let calendar = calendars.get(state);
    if (!calendar) {
      const { redis, locks, queues } = state;
      calendar = new Calendar({ redis, prefix: config.redis.prefix, config, policy, locks, queues });
      calendars.set(state, calendar);
    }
    return calendar;
  };

  const web = express();
  web.disable('x-powered-by');
  // With server.opsPort, health, metrics and the dashboard are served on their own listener only,
  // and the one Slack reaches serves /slack/events alone.
  const ops = config.server.opsPort === undefined ? web : express();
  ops.disable('x-powered-by');
  let workers: Workers | undefined;
  ops.use(
    healthRoutes({
      redis: state.redis,
      metrics,
      queueFigures: new QueueFigures({
        redis: state.redis,
        queues: state.queues,
        auditChain: state.auditChain,
        metrics,
        calendar: calendarOn(state),
        maxAgeMs: config.server.queueMetricsMaxAge,
      }),
      workerRunning: () => (isWorker ? (workers?.running() ?? false) : true),
    }),
  );
  const { dashboard } = config;
  if (dashboard.enabled && dashboard.password) {
    ops.use(
      dashboard.path,
      queueDashboard({
        path: dashboard.path,
        username: dashboard.username,
        password: dashboard.password,
        readOnly: dashboard.readOnly,
        queues: state.queues.all,
        log,
      }),
    );
  }

  /** Request decisions on one role's connection; only the delivery of their messages differs. */
  const lifecycleOn = (state: State, calendar: Calendar, deliverNow: DeliverNow) => {
    const { store, outbox, queues, locks } = state;
    return new RequestLifecycle({ store, outbox, queues, locks, calendar, policy, log, metrics, deliverNow });
  };

  let bolt: App | undefined;
  if (webState) {
    const { queues, outbox } = webState;
    // Web processes leave delivery to a worker's delivery job.
    const lifecycle = lifecycleOn(webState, calendarOn(webState), (requestId) => outbox.kick(requestId));
    const common = {
      token: config.slack.botToken.reveal(),
      // opsbot keeps no conversation state in Bolt; its default store costs every request a lookup.
      convoStore: false as const,
      logger: boltLogger(log),
      clientOptions: { slackApiUrl: config.slack.apiUrl, retryConfig: { retries: 0 } },
      ...(config.slack.botId ? { botId: config.slack.botId } : {}),
      ...(config.slack.botUserId ? { botUserId: config.slack.botUserId } : {}),
    };
    if (config.slack.appToken) {
      bolt = new App({ ...common, appToken: config.slack.appToken.reveal(), socketMode: true });
    } else {
      const receiver = new ExpressReceiver({
        signingSecret: config.slack.signingSecret!.reveal(),
        endpoints: '/slack/events',
        app: web,
        logger: boltLogger(log),
      });
      bolt = new App({ ...common, receiver });
    }
    registerOpsCommand(bolt, { command: config.slack.command, commands: queues.commands, log });
    registerApprovalButtons(bolt, { lifecycle, log });
    registerReasonButtons(bolt, { log });
    registerReasonSubmissions(bolt, { lifecycle, log });
    bolt.error(async (error) => {
      log.error({ err: error }, 'Slack handler failed');
    });
  }

  // Delivery's own Slack client (chat.postMessage / chat.update), in workers only.
  const writer = isWorker
    ? new SlackWriter({
        apiUrl: config.slack.apiUrl,
        token: config.slack.botToken.reveal(),
        timeoutMs: 10_000,
        scrub: scrubSecrets,
      })
    : undefined;
  if (workerState && writer) {
    const { redis, queues, store, outbox, locks, auditChain } = workerState;
    const deliver: DeliverDeps = {
      store,
      outbox,
      pacer: new ChannelPacer(
        redis,
        config.redis.prefix,
        config.slack.perChannelPerSecond,
        config.slack.burst,
        config.slack.updatesPerMinute,
      ),
      slack,
      writer,
      command: config.slack.command,
      log,
      metrics,
    };
    // One inline delivery for the worker: opening requests and the run job's steps share it.
    const deliverNow = createInlineDelivery(deliver);
    const calendar = calendarOn(workerState);
    const lifecycle = lifecycleOn(workerState, calendar, deliverNow);
    workers = await startWorkers({
      connection: workerConnection!,
      prefix: config.redis.prefix,
      concurrency: config.worker.concurrency,
      lockDuration: config.worker.lockDuration,
      stalledInterval: config.worker.stalledInterval,
      reconcileEveryMs: config.worker.reconcileEvery,
      slackConcurrency: config.worker.slackConcurrency,
      queues,
      run: { store, outbox, clients, locks, policy, log, metrics, calendar },
      deliver,
      deliverNow,
      commands: {
        config,
        policy,
        lifecycle,
        store,
        locks,
        auditChain,
        clients,
        slack,
        writer,
        log,
        metrics,
        calendar,
      },
      audit: { chain: auditChain, sealEveryMs: config.audit.sealEvery },
      log,
    });
  }

  const { port, host, opsPort, opsHost } = config.server;
  const listeners = [await Listener.open(web, port, host)];
  if (opsPort !== undefined) listeners.push(await Listener.open(ops, opsPort, opsHost ?? host));
  if (bolt && config.slack.appToken) await bolt.start();
  const [url, opsUrl] = [listeners[0]!.url, listeners.at(-1)!.url];
  log.info(
    {
      url,
      ...(opsUrl !== url ? { opsUrl } : {}),
      roles: config.roles,
      socketMode: Boolean(config.slack.appToken),
    },
    'opsbot started',
  );

  return {
    url,
    opsUrl,
    log,
    metrics,
    store: state.store,
    stop: async () => {
      log.info('opsbot stopping');
      const closed = Promise.all(listeners.map((listener) => listener.stopAccepting()));
      if (bolt && config.slack.appToken) await bolt.stop();
      await workers?.close(config.worker.shutdownGrace);
      await Promise.all([webState?.close(), workerState?.close()]);
      workerConnection?.disconnect();
      await writer?.close();
      for (const listener of listeners) listener.closeAll();
      await closed;
      log.info('opsbot stopped');
    },
  };
}
