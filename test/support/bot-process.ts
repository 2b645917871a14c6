import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * opsbot as a real separate process (`node --import tsx src/main.ts`), started from a config
 * file exactly as in production, for tests that kill, restart and race processes.
 */

export interface BotProcess {
  name: string;
  /** Base URL of its HTTP server. */
  url: string;
  logs: string[];
  child: ChildProcess;
  /** SIGKILL: no cleanup at all, as a crash. */
  crash(): Promise<void>;
  /** SIGTERM and wait for a clean exit; resolves with the exit code. */
  terminate(): Promise<number | null>;
  /** SIGSTOP: the process freezes as in a long GC pause or a partition, holding what it holds. */
  freeze(): void;
  /** SIGCONT: it goes on from where it stopped, unaware of the time that passed. */
  thaw(): void;
}

export function writeConfigFile(document: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-proc-'));
  const path = join(dir, 'opsbot.yml');
  writeFileSync(path, stringify(document));
  return path;
}

export async function startBotProcess(options: {
  name: string;
  configPath: string;
  env: Record<string, string>;
  roles: Array<'web' | 'worker'>;
}): Promise<BotProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      ...options.env,
      OPSBOT_CONFIG: options.configPath,
      OPSBOT_ROLES: options.roles.join(','),
      PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(
      () => reject(new Error(`${options.name} did not start:\n${logs.join('\n')}`)),
      30_000,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        logs.push(line);
        if (line.includes('"opsbot started"')) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        }
        newline = buffer.indexOf('\n');
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited with ${code}:\n${logs.join('\n')}`));
    });
  });
  return {
    name: options.name,
    url,
    logs,
    child,
    crash: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    terminate: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    freeze: () => child.kill('SIGSTOP'),
    thaw: () => child.kill('SIGCONT'),
  };
}
