import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { type Opsbot, startOpsbot } from './app.js';
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
  const { portFile } = config.server;
  // Listening for SIGTERM and SIGINT from the start: a signal with no listener kills the process
  // at once, without a graceful stop, and whoever started opsbot may send one as soon as it sees
  // the "opsbot started" line or the port file. One that comes while opsbot starts is acted on
  // once it has started, or ends the process if starting takes more than 10 s longer (a Redis
  // that never answers).
  let opsbot: Opsbot | undefined;
  let signalled: string | undefined;
  const stop = (signal: string) => {
    if (signalled) return;
    signalled = signal;
    if (!opsbot) {
      setTimeout(() => process.exit(1), 10_000).unref();
      return;
    }
    const running = opsbot;
    running.log.info({ signal }, 'shutting down');
    if (portFile) rmSync(portFile, { force: true });
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        running.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  opsbot = await startOpsbot(config);
  if (signalled) {
    const signal = signalled;
    signalled = undefined;
    return stop(signal);
  }
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
