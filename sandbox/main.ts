import { parseArgs } from 'node:util';
import { createLogger } from '../src/log.js';
import { startSandbox } from './sandbox.js';
import { isScenario, SCENARIOS } from './scenarios.js';

/**
 * `npm run sandbox`: the real bot against local vendor simulators and a chat page, with no Slack
 * credentials. Prints the page's URL; Ctrl-C stops everything.
 */

const USAGE = `Usage: npm run sandbox -- [--port 3333] [--host 127.0.0.1] [--scenario <name>] [--log-level warn]

Scenarios (also switchable in the page):
${Object.entries(SCENARIOS)
  .map(([name, text]) => `  ${name.padEnd(20)}${text}`)
  .join('\n')}

Uses REDIS_URL when set; otherwise starts a private redis-server.`;

/** How long a clean stop may take (the bot's own shutdown grace is 2 s) before the sandbox just exits. */
const STOP_DEADLINE_MS = 10_000;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

async function main(): Promise<void> {
  let values: ReturnType<typeof readOptions>;
  try {
    values = readOptions();
  } catch (error) {
    return fail(`${(error as Error).message}\n\n${USAGE}`, 2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    return fail(`--port must be a port number\n\n${USAGE}`, 2);
  if (!isScenario(values.scenario)) return fail(`unknown scenario "${values.scenario}"\n\n${USAGE}`, 2);
  if (!LOG_LEVELS.includes(values['log-level'])) {
    return fail(`--log-level must be one of ${LOG_LEVELS.join(', ')}`, 2);
  }

  // From the first moment: a signal during start-up stops the sandbox as soon as it is up.
  const stopper = stopOnSignalOrOrphaned();
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  try {
    sandbox = await startSandbox({
      port,
      host: values.host,
      scenario: values.scenario,
      redisUrl: process.env.REDIS_URL || undefined,
      log: createLogger({ level: values['log-level'], destination: process.stderr }),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') return fail(`port ${port} is in use; pick another with --port`, 1);
    return fail(`could not start the sandbox: ${(error as Error).message}`, 1);
  }
  console.log(`opsbot sandbox: ${sandbox.url}  (scenario ${sandbox.scenario}; Ctrl-C stops it)`);
  stopper.started(sandbox.stop);
}

/**
 * Everything the sandbox started ends with it, however it is stopped: SIGTERM or SIGINT (which
 * `npm run` passes on), SIGHUP (a closed terminal), or its parent (npm) dying without passing
 * anything on, which shows only as this process being handed to a new parent. `npm run sandbox`
 * execs node, so no shell stands between npm and this process.
 */
function stopOnSignalOrOrphaned(): { started(stop: () => Promise<void>): void } {
  const parent = process.ppid;
  let stop: (() => Promise<void>) | undefined;
  let reason: string | undefined;
  const run = () => {
    console.error(`opsbot sandbox: stopping (${reason})`);
    // A stop that hangs (say, a Redis that went away) must not keep anything running.
    setTimeout(() => {
      console.error(`opsbot sandbox: not stopped within ${STOP_DEADLINE_MS / 1000} s; exiting now`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    stop!().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`opsbot sandbox: could not stop cleanly: ${error.message}`);
        process.exit(1);
      },
    );
  };
  const shutdown = (why: string) => {
    if (reason !== undefined) return;
    reason = why;
    if (stop) run();
  };
  let firstSignalAt = 0;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // A second Ctrl-C means now (the private redis-server still goes, see startSandbox). One
      // Ctrl-C arrives twice (from the terminal and from npm), so a second one must come later.
      if (firstSignalAt > 0 && Date.now() - firstSignalAt > 1000) process.exit(130);
      firstSignalAt ||= Date.now();
      shutdown(signal);
    });
  }
  setInterval(() => {
    if (process.ppid !== parent) shutdown('its parent process ended');
  }, 500).unref();
  return {
    started(stopSandbox) {
      stop = stopSandbox;
      if (reason !== undefined) run();
    },
  };
}

function readOptions() {
  return parseArgs({
    options: {
      port: { type: 'string', default: '3333' },
      host: { type: 'string', default: '127.0.0.1' },
      scenario: { type: 'string', default: 'success' },
      'log-level': { type: 'string', default: 'warn' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
}

function fail(message: string, exitCode: number): void {
  console.error(`opsbot sandbox: ${message}`);
  process.exitCode = exitCode;
}

await main();
