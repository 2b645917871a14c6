import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { rememberedSecretCount, Secret, scrubSecrets } from '../../src/config/secret.js';
import { CckmTokens } from '../../src/vendors/cckm/tokens.js';
import { targetFor } from '../vendors/cckm/support.js';

/**
 * What the scrubber remembers: every configured secret, and of each minted kind of token only
 * the current and the previous value, however many are minted over the months.
 */

const MASK = '••••';

describe('minted secrets', () => {
  it('remembers two tokens per slot after 100,000 mints, and still masks the newest two', async () => {
    let now = Date.UTC(2025, 0, 1);
    const minted: string[] = [];
    // CipherTrust's grant endpoint as CckmTokens sees it: each grant answers a new JWT and a new
    // refresh token, so both of the target's slots turn over at every mint.
    const tokens = new CckmTokens({
      target: targetFor('https://cm.example.com', 'cm-password-1'),
      log: pino({ level: 'silent' }),
      now: () => now,
      grant: async () => {
        const jwt = `jwt.${randomBytes(12).toString('hex')}`;
        minted.push(jwt);
        return { jwt, duration: 300, refresh_token: `rt-${randomBytes(12).toString('hex')}` };
      },
    });
    await tokens.bearer();
    const afterFirst = rememberedSecretCount();

    for (let i = 0; i < 100_000; i += 1) {
      now += 300_000; // every JWT lives 300 s: each call mints the next one
      await tokens.bearer();
      if (i % 10_000 === 0) expect(rememberedSecretCount()).toBeLessThanOrEqual(afterFirst + 2);
    }

    expect(minted).toHaveLength(100_001);
    expect(rememberedSecretCount()).toBe(afterFirst + 2);
    const [older, previous, current] = minted.slice(-3) as [string, string, string];
    expect(scrubSecrets(`Authorization: Bearer ${current}`)).toBe(`Authorization: Bearer ${MASK}`);
    expect(scrubSecrets(`refused ${previous}`)).toBe(`refused ${MASK}`);
    // Forgotten: no text can carry a JWT that expired hours ago on its way out.
    expect(scrubSecrets(older)).toBe(older);
    expect(scrubSecrets(minted[0]!)).toBe(minted[0]);
  });

  it('keeps every configured secret, including the escaped form a JSON log line shows', () => {
    const password = 'pa"ss\\word-1';
    new Secret(password, 'test');
    expect(scrubSecrets(`x ${password} y`)).toBe(`x ${MASK} y`);
    expect(scrubSecrets(JSON.stringify({ msg: `x ${password} y` }))).toBe(`{"msg":"x ${MASK} y"}`);
  });
});
