import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { problemsOf } from '../config/problems.js';

/** `audit.sealEvery`: how often the sealer runs; a bad value is refused with its key. */

const env = { SLACK_BOT_TOKEN: 'xoxb-config-test', SLACK_SIGNING_SECRET: 'config-test-secret' };
const load = (audit?: Record<string, unknown>) =>
  loadConfig({
    env,
    document: {
      slack: { botToken: { env: 'SLACK_BOT_TOKEN' }, signingSecret: { env: 'SLACK_SIGNING_SECRET' } },
      policy: { channels: ['C0OPSCHAN1'] },
      ...(audit ? { audit } : {}),
    },
  });

describe('audit.sealEvery', () => {
  it('defaults to 5 s and reads durations', () => {
    expect(load().audit).toEqual({ retention: 90 * 86_400_000, sealEvery: 5_000 });
    expect(load({ sealEvery: '2s' }).audit.sealEvery).toBe(2_000);
  });

  it('refuses what is not a duration, and anything under 10 ms', () => {
    expect(problemsOf(() => load({ sealEvery: 'often' }))).toEqual([
      expect.stringMatching(/^audit\.sealEvery: "often" is not a duration/),
    ]);
    expect(problemsOf(() => load({ sealEvery: '0s' }))).toEqual(['audit.sealEvery: must be at least 10ms']);
  });
});
