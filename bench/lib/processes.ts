import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Child processes for the things under test (the bot, the bare Bolt app, the baseline worker, the
 * load generator), so each is measured alone: its own event loop, its own RSS and CPU time. A
 * child is an entry under bench/children, run as compiled JavaScript with plain `node`, as
 * `npm start` runs opsbot (`npm run bench` compiles them first with tsconfig.bench.json into
 * dist/); parent and child talk over IPC with `{ type, ...fields }` messages.
 */

export interface ChildMessage {
  type: string;
  [field: string]: unknown;
}

export interface Child {
  pid: number;
  /** The fields the child sent with `ready`. */
  ready: ChildMessage;
  send(message: ChildMessage): void;
  /** Resolves with the next message of this type (rejects if the child exits first). */
  next<T = ChildMessage>(type: string, timeoutMs?: number): Promise<T>;
  /** Sends a request and waits for its answer (`type` + `:done`). */
  ask<T = ChildMessage>(message: ChildMessage, timeoutMs?: number): Promise<T>;
  /** Resident set size now and at its peak, in bytes (Linux /proc). */
  memory(): { rss: number; peak: number };
  /** User + system CPU time used so far, in milliseconds. */
  cpuMs(): number;
  /** Asks the child to stop; kills it if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const CHILDREN = fileURLToPath(new URL('../../dist/bench/children/', import.meta.url));

export interface ChildOptions {
  /** Extra Node flags, e.g. those the production start command uses. */
  nodeFlags?: string[];
  /** Where the compiled children are: this checkout's, unless another build is being compared. */
  dir?: string | undefined;
  readyTimeoutMs?: number;
}

export async function startChild(
  name: string,
  start: ChildMessage,
  { nodeFlags = [], readyTimeoutMs = 30_000, dir = CHILDREN }: ChildOptions = {},
): Promise<Child> {
  const entry = join(dir, `${name}.js`);
  if (!existsSync(entry))
    throw new Error(`${entry} is missing: compile with \`tsc -p tsconfig.bench.json\` (npm run bench does)`);
  const child: ChildProcess = fork(entry, [], {
    // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every child there (to find bottlenecks).
    execArgv: [
      '--expose-gc',
      ...nodeFlags,
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiters = new Map<string, Array<(message: ChildMessage) => void>>();
  const early: ChildMessage[] = [];
  let exited: Error | undefined;
  const failures = new Set<(error: Error) => void>();
  child.on('message', (message: ChildMessage) => {
    const queue = waiters.get(message.type);
    const waiter = queue?.shift();
    if (waiter) waiter(message);
    else early.push(message);
  });
  child.on('exit', (code, signal) => {
    exited = new Error(`bench child ${name} exited (code ${code}, signal ${signal})`);
    for (const fail of failures) fail(exited);
  });

  const next = <T>(type: string, timeoutMs = 120_000) =>
    new Promise<T>((resolve, reject) => {
      const index = early.findIndex((message) => message.type === type);
      if (index >= 0) return resolve(early.splice(index, 1)[0] as T);
      if (exited) return reject(exited);
      const timer = setTimeout(() => {
        failures.delete(reject);
        reject(new Error(`bench child ${name} did not answer ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      failures.add(reject);
      const queue = waiters.get(type) ?? [];
      queue.push((message) => {
        clearTimeout(timer);
        failures.delete(reject);
        resolve(message as T);
      });
      waiters.set(type, queue);
    });

  child.send(start);
  const ready = await next<ChildMessage>('ready', readyTimeoutMs).catch((error: Error) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    pid: child.pid!,
    ready,
    send: (message) => child.send(message),
    next,
    ask: (message, timeoutMs) => {
      const answer = next(`${message.type}:done`, timeoutMs);
      child.send(message);
      return answer as never;
    },
    memory: () => processMemory(child.pid!),
    cpuMs: () => processCpuMs(child.pid!),
    stop: async (graceMs = 30_000) => {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** VmRSS and VmHWM of a process, in bytes. */
export function processMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 };
}

/** utime + stime of a process in milliseconds (clock ticks are 1/100 s on Linux). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  redis?: string | undefined;
}

export function machineInfo(redisVersion?: string): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()}`,
    redis: redisVersion,
  };
}
