import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/harness.js';

/**
 * `npm run sandbox` as a person runs it, in real processes: npm, the sandbox's node process and
 * its private redis-server. However it is stopped, nothing it started may outlive it.
 */

interface Proc {
  pid: number;
  ppid: number;
  command: string;
}

/** Every live process (zombies count as gone: they have exited and only wait to be reaped). */
function processes(): Proc[] {
  const found: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      found.push({ pid: Number(name), ppid: Number(ppid), command });
    } catch {
      // It ended while being read.
    }
  }
  return found;
}

function descendantsOf(root: number): Proc[] {
  const all = processes();
  const tree: Proc[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const proc of all) {
      if (parents.has(proc.ppid) && !parents.has(proc.pid)) {
        parents.add(proc.pid);
        tree.push(proc);
        grew = true;
      }
    }
  }
  return tree;
}

const alive = (pids: number[]) => {
  const live = new Set(processes().map((proc) => proc.pid));
  return pids.filter((pid) => live.has(pid));
};

let started: number[] = [];

afterEach(() => {
  // A failed test must not leave its processes behind either.
  for (const pid of alive(started)) process.kill(pid, 'SIGKILL');
  started = [];
});

/**
 * `npm run sandbox -- --port 0` in its own process group (as in a terminal), once it serves its
 * page or, with `early`, as soon as its redis-server runs (the bot not yet started).
 */
async function startSandbox(early = false): Promise<{ npm: ChildProcess; output: () => string }> {
  const env = { ...process.env };
  delete env.REDIS_URL; // so that it starts its own redis-server
  const npm = spawn('npm', ['run', 'sandbox', '--', '--port', '0'], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  npm.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const tree = () => descendantsOf(npm.pid!);
  await waitFor(
    () =>
      early
        ? tree().some((proc) => proc.command.startsWith('redis-server'))
        : output.includes('opsbot sandbox: http://'),
    `the sandbox to start:\n${output}`,
    60_000,
  );
  const processes = tree();
  expect(processes.some((proc) => proc.command.startsWith('redis-server'))).toBe(true);
  expect(processes.some((proc) => proc.command.includes('sandbox/main.ts'))).toBe(true);
  started = [npm.pid!, ...processes.map((proc) => proc.pid)];
  return { npm, output: () => output };
}

describe('stopping npm run sandbox', () => {
  const cases: Array<[string, boolean, (npm: ChildProcess) => void]> = [
    ['SIGTERM to npm', false, (npm) => npm.kill('SIGTERM')],
    ['SIGTERM to npm during start-up', true, (npm) => npm.kill('SIGTERM')],
    ['SIGINT to npm', false, (npm) => npm.kill('SIGINT')],
    // Ctrl-C in a terminal and a closed terminal signal the whole foreground process group.
    ['Ctrl-C in a terminal (SIGINT to the process group)', false, (npm) => process.kill(-npm.pid!, 'SIGINT')],
    ['a closed terminal (SIGHUP to the process group)', false, (npm) => process.kill(-npm.pid!, 'SIGHUP')],
    ['SIGKILL to npm (nothing passed on)', false, (npm) => npm.kill('SIGKILL')],
  ];

  it.each(cases)(
    '%s ends every process it started, redis-server included',
    async (_name, early, stop) => {
      const { npm, output } = await startSandbox(early);

      stop(npm);

      await waitFor(() => alive(started).length === 0, 'every sandbox process to end', 30_000).catch(() => {
        const left = processes().filter((proc) => started.includes(proc.pid));
        const names = left.map((proc) => `${proc.pid} ${proc.command}`).join('; ');
        throw new Error(`still running: ${names}\n${output()}`);
      });
    },
    90_000,
  );
});
