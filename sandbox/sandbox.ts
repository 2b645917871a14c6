import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type Opsbot, startOpsbot } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { type FakeSlack, startFakeSlack } from '../src/devtools/fake-slack.js';
import { startRedisServer } from '../src/devtools/redis-server.js';
import { createLogger } from '../src/log.js';
import { allActions } from '../src/vendors/registry.js';
import { startPageServer } from './page-server.js';
import { BOT, CHANNEL, sandboxPolicy, USERS } from './people.js';
import { type Scenario, STRICT_SLACK_LIMIT, vendorScenarioOf } from './scenarios.js';
import { PROD_TARGET, startVendorLab } from './vendors.js';

/**
 * The whole bot on one machine: Redis, the vendor simulators, a stand-in for the Slack Web API,
 * the real opsbot started from a config document exactly as production starts it (HTTP mode,
 * signed requests), and the chat page in front of it. Used by `sandbox/main.ts` and the tests.
 */

export interface SandboxOptions {
  /** Port of the chat page; 0 picks a free one. Default 3333. */
  port?: number;
  /** Address the page listens on. Default 127.0.0.1: the page signs requests for whoever reaches it. */
  host?: string;
  /** Default `success`. */
  scenario?: Scenario;
  /** Redis to use. Default: a private `redis-server` on a free port, removed on stop. */
  redisUrl?: string;
  /** Key prefix in Redis. Default `sandbox-<random>`; its keys are deleted on stop. */
  redisPrefix?: string;
  /** Time between polls of a vendor job. Default `1s`, so a whole action takes seconds. */
  pollInterval?: string;
  /** The bot's logger. Default: JSON lines at `warn` on stderr. */
  log?: Logger;
}

export interface Sandbox {
  /** The chat page. */
  url: string;
  /** The bot's own HTTP server (`/slack/events`, `/healthz`, `/metrics`). */
  botUrl: string;
  readonly scenario: Scenario;
  setScenario(scenario: Scenario): void;
  slack: FakeSlack;
  opsbot: Opsbot;
  stop(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  // Everything started is stopped in reverse order, also when a later step fails to start.
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  };
  try {
    const redisUrl = options.redisUrl ?? (await privateRedis(cleanups));
    const prefix = options.redisPrefix ?? `sandbox-${randomBytes(4).toString('hex')}`;
    cleanups.push(() => deleteKeys(redisUrl, prefix));

    const lab = await startVendorLab();
    cleanups.push(lab.close);

    const botToken = `xoxb-sandbox-${randomBytes(12).toString('hex')}`;
    const signingSecret = randomBytes(16).toString('hex');
    const slack = await startFakeSlack({ botToken, botUserId: BOT.id });
    cleanups.push(slack.close);

    const config = loadConfig({
      env: { ...lab.env, SLACK_BOT_TOKEN: botToken, SLACK_SIGNING_SECRET: signingSecret },
      document: {
        slack: {
          botToken: { env: 'SLACK_BOT_TOKEN' },
          signingSecret: { env: 'SLACK_SIGNING_SECRET' },
          apiUrl: slack.apiUrl,
        },
        redis: { url: redisUrl, prefix },
        server: { port: 0, host: '127.0.0.1' },
        worker: { shutdownGrace: '2s' },
        targets: lab.targets,
        policy: sandboxPolicy(readOnlyActions(), actionTimings(options.pollInterval ?? '1s'), PROD_TARGET),
      },
    });
    const opsbot = await startOpsbot(config, {
      log: options.log ?? createLogger({ level: 'warn', destination: process.stderr }),
    });
    cleanups.push(opsbot.stop);

    let scenario: Scenario = 'success';
    const scenarioListeners = new Set<(scenario: Scenario) => void>();
    const setScenario = (next: Scenario) => {
      scenario = next;
      lab.setScenario(vendorScenarioOf(next));
      slack.setRateLimit(next === 'slack-rate-limited' ? { ...STRICT_SLACK_LIMIT } : undefined);
      for (const listener of scenarioListeners) listener(next);
    };
    setScenario(options.scenario ?? 'success');

    const page = await startPageServer({
      port: options.port ?? 3333,
      host: options.host ?? '127.0.0.1',
      slack,
      bot: { botUrl: opsbot.url, signingSecret },
      command: config.slack.command,
      examples: lab.examples,
      scenario: {
        current: () => scenario,
        set: setScenario,
        onChange: (listener) => {
          scenarioListeners.add(listener);
          return () => scenarioListeners.delete(listener);
        },
        // A storm is a handful of failing calls: arm it again for each command, so every action
        // tried under `5xx-storm` meets one.
        beforeCommand: () => {
          if (scenario === '5xx-storm') lab.setScenario('5xx-storm');
        },
      },
    });
    cleanups.push(page.close);

    return {
      url: page.url,
      botUrl: opsbot.url,
      get scenario() {
        return scenario;
      },
      setScenario,
      slack,
      opsbot,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function privateRedis(cleanups: Array<() => Promise<void>>): Promise<string> {
  try {
    const redis = await startRedisServer();
    // However this process ends (process.exit, an uncaught error), its redis-server goes too:
    // `stop` sends its SIGKILL before its first await, so it is sent within the 'exit' event.
    const killOnExit = () => {
      void redis.stop({ crash: true });
      rmSync(redis.dir, { recursive: true, force: true });
    };
    process.once('exit', killOnExit);
    cleanups.push(async () => {
      process.off('exit', killOnExit);
      await redis.destroy();
    });
    return redis.url;
  } catch (error) {
    throw new Error(
      'the sandbox needs Redis and could not start redis-server. Install it ' +
        '(Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) ' +
        'or point REDIS_URL at a Redis you may use (e.g. REDIS_URL=redis://127.0.0.1:6379).',
      { cause: error },
    );
  }
}

/** Quick polls for every action that follows a vendor job, so a whole action takes seconds. */
function actionTimings(pollInterval: string): Record<string, Record<string, string>> {
  return Object.fromEntries(
    allActions()
      .filter(({ action }) => action.mode !== 'read')
      .map(({ action }) => [action.id, { pollInterval, firstPollDelay: pollInterval, deadline: '3m' }]),
  );
}

function readOnlyActions(): string[] {
  return allActions()
    .filter(({ action }) => action.mode === 'read')
    .map(({ action }) => action.id);
}

/** The sandbox's keys go with it: its chat history lives only in memory, so its requests would be orphans. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export { CHANNEL, USERS };
