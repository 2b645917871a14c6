import { ConfigError } from '../../src/config/load.js';

/** The problems a configuration is refused with; fails the test if it is not refused. */
export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
