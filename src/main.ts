import { renameSync, rmSync, writeFileSync } from 'node:fs';
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
  const { portFile } = config.server;
  if (portFile) {
    try {
      writePortFile(portFile, Number(new URL(opsbot.url).port));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      process.stderr.write(`opsbot cannot write server.portFile ${portFile} (${code})\n`);
      await opsbot.stop();
      process.exit(2);
    }
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    opsbot.log.info({ signal }, 'shutting down');
    if (portFile) rmSync(portFile, { force: true });
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

/**
 * The bound port, for whoever started opsbot with port 0. Written beside the file and renamed
 * over it, so a reader never sees a half-written number.
 */
function writePortFile(path: string, port: number): void {
  const partial = `${path}.${process.pid}.tmp`;
  writeFileSync(partial, `${port}\n`);
  renameSync(partial, path);
}

main().catch((error: unknown) => {
  process.stderr.write(`opsbot failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
