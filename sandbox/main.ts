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

  let stopping = false;
  const shutdown = async () => {
    if (stopping) {
      // A second Ctrl-C means now.
      process.exit(130);
    }
    stopping = true;
    await sandbox.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
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
