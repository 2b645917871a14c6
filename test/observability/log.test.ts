import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { registerSecretValue, Secret } from '../../src/config/secret.js';
import { createLogger } from '../../src/log.js';
import { boltLogger } from '../../src/slack/bolt-logger.js';

/**
 * Known secret values never reach a log line, wherever they hide in it: the message, an
 * interpolated argument, an error's message and stack, a nested field, or a line Bolt logs.
 */

function capture() {
  const lines: string[] = [];
  const log = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  return { log, text: () => lines.join('') };
}

const CONFIGURED = 'configured-password-4f1c9a';
const MINTED = 'minted.jwt.8d2e6b7c0a';
new Secret(CONFIGURED, 'env:TEST_PASSWORD');
registerSecretValue('test/log/jwt', MINTED);

describe('log redaction', () => {
  it('masks a known secret inside the message string', () => {
    const { log, text } = capture();
    log.info(`signing in with ${CONFIGURED} and then ${MINTED}`);
    expect(text()).toContain('signing in with •••• and then ••••');
    expect(text()).not.toContain(CONFIGURED);
    expect(text()).not.toContain(MINTED);
  });

  it('masks it in interpolated arguments, error messages and stacks, and nested fields', () => {
    const { log, text } = capture();
    log.warn('token %s refused', MINTED);
    const error = new Error(`vendor echoed the password ${CONFIGURED}`, {
      cause: new Error(`with token ${MINTED}`),
    });
    log.error({ err: error }, 'call failed');
    log.error(error);
    log.info({ call: { url: `https://vendor.example/login?token=${MINTED}` }, note: CONFIGURED }, 'audit');
    expect(text()).not.toContain(CONFIGURED);
    expect(text()).not.toContain(MINTED);
    expect(text()).toContain('vendor echoed the password ••••');
    expect(text()).toContain('login?token=••••');
  });

  it("masks Bolt's own log lines, which pass through the same logger", () => {
    const { log, text } = capture();
    const bolt = boltLogger(log);
    bolt.error('[ERROR] An API error occurred:', `invalid_auth for ${MINTED}`);
    bolt.warn({ response: { token: 'x', note: `password ${CONFIGURED}` } });
    expect(text()).toContain('"component":"slack"');
    expect(text()).toContain('invalid_auth for ••••');
    expect(text()).not.toContain(CONFIGURED);
    expect(text()).not.toContain(MINTED);
  });
});
