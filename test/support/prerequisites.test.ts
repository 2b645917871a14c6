import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `npm test` on a machine that lacks redis-server or Chromium: the run ends at once with one
 * sentence saying what to install, not a stack trace (the suite's global setup checks first).
 */

// A PATH with node on it and nothing else: no redis-server, no chromium.
const bare = mkdtempSync(join(tmpdir(), 'opsbot-bare-path-'));
symlinkSync(process.execPath, join(bare, 'node'));

afterAll(() => rmSync(bare, { recursive: true, force: true }));

async function runSuite(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const inherited = { ...process.env };
  for (const name of ['REDIS_URL', 'CHROMIUM_PATH']) delete inherited[name];
  const child = spawn(
    process.execPath,
    ['node_modules/vitest/vitest.mjs', 'run', 'test/config/load.test.ts'],
    { env: { ...inherited, PATH: bare, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

/** The lines the run printed besides vitest's own banner. */
function said(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('RUN '));
}

describe('npm test without its prerequisites', () => {
  it('names both when neither redis-server nor chromium is installed, with the one install line', async () => {
    const { code, output } = await runSuite({});
    expect(code).toBe(1);
    expect(said(output)).toEqual([
      'npm test needs redis-server and chromium: apt-get install redis-server chromium',
    ]);
  });

  it('names chromium alone when Redis is given by REDIS_URL', async () => {
    const { code, output } = await runSuite({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect(code).toBe(1);
    expect(said(output)).toEqual(['npm test needs chromium: apt-get install redis-server chromium']);
  });

  it('says so when CHROMIUM_PATH names no executable', async () => {
    const { code, output } = await runSuite({ REDIS_URL: 'redis://127.0.0.1:1', CHROMIUM_PATH: bare });
    expect(code).toBe(1);
    expect(said(output)).toEqual([
      `npm test needs chromium (CHROMIUM_PATH=${bare} is not an executable): apt-get install redis-server chromium`,
    ]);
  });
});
