import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisProcess, startRedisServer } from '../../src/devtools/redis-server.js';
import { createRedis } from '../../src/jobs/queues.js';
import { countSocketWrites } from '../support/socket-writes.js';

/**
 * Every connection from createRedis sends the commands given to it in one turn of the event loop
 * as one write, and keeps doing so on the new socket after a reconnection. Measured on the
 * connection's socket (countSocketWrites).
 */

let server: RedisProcess;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.destroy();
});

/** A standalone connection as opsbot makes them. */
const standalone = () => createRedis({ mode: 'standalone', url: server.url }, { blocking: true }) as Redis;

/** Writes taken by `count` INCRs given in one turn, and their answers. */
async function oneTurnOfIncrs(client: Redis, key: string, count: number) {
  const { writes, answer } = await countSocketWrites([client.stream as Socket], () =>
    Promise.all(Array.from({ length: count }, () => client.incr(key))),
  );
  return { writes, answers: answer };
}

const inOrder = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

async function ready(client: Redis): Promise<void> {
  if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
}

describe('write batching', () => {
  it('sends one turn of commands in one write, answered in order; a bare ioredis client does not', async () => {
    const bare = new Redis(server.url);
    const batched = standalone();
    try {
      await Promise.all([ready(bare), ready(batched)]);

      const control = await oneTurnOfIncrs(bare, 'bare', 200);
      expect(control.answers).toEqual(inOrder(200));
      // Without batching each command is its own write.
      expect(control.writes).toBeGreaterThan(100);

      const measured = await oneTurnOfIncrs(batched, 'batched', 200);
      expect(measured.answers).toEqual(inOrder(200));
      expect(measured.writes).toBe(1);
    } finally {
      bare.disconnect();
      batched.disconnect();
    }
  });

  it('sends a command given in a later turn (from a timer or an immediate) without waiting for another', async () => {
    const batched = standalone();
    try {
      await ready(batched);
      const fromImmediate = await new Promise((resolve, reject) =>
        setImmediate(() => batched.ping('immediate').then(resolve, reject)),
      );
      const fromTimer = await new Promise((resolve, reject) =>
        setTimeout(() => batched.ping('timer').then(resolve, reject), 5),
      );
      expect([fromImmediate, fromTimer]).toEqual(['immediate', 'timer']);
    } finally {
      batched.disconnect();
    }
  });

  it('keeps batching on the new socket after Redis restarts', async () => {
    const batched = standalone();
    try {
      await ready(batched);
      const firstSocket = batched.stream;
      await server.stop();
      await server.restart();
      await ready(batched);
      expect(batched.stream).not.toBe(firstSocket);

      const measured = await oneTurnOfIncrs(batched, 'after-restart', 200);
      expect(measured.answers).toEqual(inOrder(200));
      expect(measured.writes).toBe(1);
    } finally {
      batched.disconnect();
    }
  });
});
