import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type BotProcess, startBotProcess, writeConfigFile } from './support/bot-process.js';
import { waitFor } from './support/harness.js';

/**
 * `node dist/src/main.js` as deployments run it, with `PORT=0`: whoever started it learns the
 * port it bound from `server.portFile` (or `OPSBOT_PORT_FILE`).
 */

function configFile(server: Record<string, unknown> = {}): string {
  return writeConfigFile({
    slack: {
      botToken: { env: 'SLACK_BOT_TOKEN' },
      signingSecret: { env: 'SLACK_SIGNING_SECRET' },
      botUserId: 'U0OPSBOT01',
      botId: 'B0OPSBOT01',
    },
    redis: { url: inject('redisUrl'), prefix: `t${randomBytes(5).toString('hex')}` },
    server: { host: '127.0.0.1', ...server },
    policy: { channels: ['*'] },
  });
}

const SECRETS = { SLACK_BOT_TOKEN: 'xoxb-main-test', SLACK_SIGNING_SECRET: 'main-test-signing-secret' };

let bots: BotProcess[] = [];
// A test that fails half-way must not leave its opsbot running.
afterEach(async () => {
  await Promise.all(bots.map((bot) => bot.crash()));
  bots = [];
});

async function startBot(options: Omit<Parameters<typeof startBotProcess>[0], 'name' | 'roles'>) {
  const bot = await startBotProcess({ name: 'web', roles: ['web'], ...options });
  bots.push(bot);
  return bot;
}

describe('the bound port', () => {
  it('is written to OPSBOT_PORT_FILE once opsbot listens, and the file is removed when it stops', async () => {
    const portFile = join(mkdtempSync(join(tmpdir(), 'opsbot-port-')), 'port');
    const bot = await startBot({ configPath: configFile(), env: { ...SECRETS, OPSBOT_PORT_FILE: portFile } });
    // The file comes a moment after the "opsbot started" line that startBotProcess waits for.
    await waitFor(() => existsSync(portFile), 'the port file');
    const written = readFileSync(portFile, 'utf8');
    expect(written).toMatch(/^\d+\n$/);
    expect(Number(written)).toBe(Number(new URL(bot.url).port));
    const health = await request(`http://127.0.0.1:${Number(written)}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();

    expect(await bot.terminate()).toBe(0);
    expect(existsSync(portFile)).toBe(false);
  });

  it('is written to server.portFile from the config file too', async () => {
    const portFile = join(mkdtempSync(join(tmpdir(), 'opsbot-port-')), 'port');
    const bot = await startBot({ configPath: configFile({ portFile }), env: SECRETS });
    await waitFor(() => existsSync(portFile), 'the port file');
    expect(Number(readFileSync(portFile, 'utf8'))).toBe(Number(new URL(bot.url).port));
    expect(await bot.terminate()).toBe(0);
  });

  it('stops opsbot with one line naming the key when the file cannot be written', async () => {
    const portFile = join(tmpdir(), `opsbot-no-such-dir-${randomBytes(4).toString('hex')}`, 'port');
    const bot = await startBot({ configPath: configFile({ portFile }), env: SECRETS });
    const code = bot.child.exitCode ?? (await new Promise((resolve) => bot.child.once('exit', resolve)));
    expect(code).toBe(2);
    expect(bot.logs).toContain(`opsbot cannot write server.portFile ${portFile} (ENOENT)\n`);
  });
});
