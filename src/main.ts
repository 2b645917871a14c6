import { startOpsbot } from './app.js';
import { type Config, ConfigError, loadConfig } from './config/load.js';

/** Production entry point: load the config, start, and stop gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const opsbot = await startOpsbot(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    opsbot.log.info({ signal }, 'shutting down');
    opsbot.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        opsbot.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`opsbot failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
