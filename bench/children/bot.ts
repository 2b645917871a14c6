import { pino } from 'pino';
import { startOpsbot } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { runChild } from '../lib/child.js';

/** opsbot in its own process, started from a config document as production starts it. */
runChild(async (start) => {
  const config = loadConfig({ env: start.env as NodeJS.ProcessEnv, document: start.document });
  const destination = pino.destination({ dest: String(start.logFile), sync: false, minLength: 4096 });
  const log = createLogger({
    level: config.log.level,
    destination: destination as unknown as NodeJS.WritableStream,
  });
  const bot = await startOpsbot(config, { log });
  return {
    ready: { url: bot.url },
    handlers: {
      // V8 heap figures, to tell live objects from garbage not yet collected and allocator slack;
      // with `collect`, after a full garbage collection (children run with --expose-gc).
      memory: async (message) => {
        if (message.collect) (globalThis as { gc?: () => void }).gc?.();
        return { ...process.memoryUsage() };
      },
    },
    stop: async () => {
      await bot.stop();
      destination.flushSync();
    },
  };
});
