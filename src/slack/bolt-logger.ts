import { LogLevel, type Logger as SlackLogger } from '@slack/logger';
import type { Logger } from 'pino';

/** Lets Bolt and the Web API client log through pino (so their lines are JSON and redacted too). */
export function boltLogger(log: Logger): SlackLogger {
  const child = log.child({ component: 'slack' });
  let level = LogLevel.INFO;
  const join = (args: unknown[]) =>
    args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  return {
    debug: (...args) => child.debug(join(args)),
    info: (...args) => child.info(join(args)),
    warn: (...args) => child.warn(join(args)),
    error: (...args) => child.error(join(args)),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
