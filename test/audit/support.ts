import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { expect } from 'vitest';

/**
 * Test helpers for the audit chain: the chain recomputed from the stored streams by the format the
 * README documents (written out again here, not imported, so that a change to the format fails a
 * test), and tampering as someone with write access to Redis would do it.
 */

type RedisClient = Redis | Cluster;
export type Entry = [id: string, fields: Buffer[]];

/** SHA-256(prev ‖ u64be(seq) ‖ u32be(len id) ‖ id ‖ u32be(n) ‖ n × (u32be(len) ‖ field)). */
export function documentedHash(prev: Buffer, seq: number, id: string, fields: Buffer[]): Buffer {
  const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  const parts = [
    prev,
    Buffer.from(seq.toString(16).padStart(16, '0'), 'hex'),
    u32(id.length),
    Buffer.from(id),
  ];
  parts.push(u32(fields.length));
  for (const field of fields) parts.push(u32(field.length), field);
  return createHash('sha256').update(Buffer.concat(parts)).digest();
}

export async function entries(redis: RedisClient, key: string): Promise<Entry[]> {
  const raw = await redis.xrangeBuffer(key, '-', '+');
  return raw.map(([id, fields]) => [id.toString(), fields]);
}

/** The seals as {id, seq, hash (hex)}, oldest first. */
export async function seals(
  redis: RedisClient,
  chainKey: string,
): Promise<Array<{ id: string; seq: number; hash: string }>> {
  return (await entries(redis, chainKey)).map(([id, fields]) => ({
    id,
    seq: Number(fields[1]!.toString()),
    hash: fields[3]!.toString('hex'),
  }));
}

/**
 * Checks that every kept record has a seal with consecutive numbers, each hash chaining the one
 * before by the documented format (from the genesis hash, or from the first seal kept when its
 * record was dropped by retention). Returns the seals.
 */
export async function expectSealedInOrder(redis: RedisClient, auditKey: string) {
  const records = await entries(redis, auditKey);
  const stored = await seals(redis, `${auditKey}:chain`);
  const sealsOfRecords = stored.filter((seal) => records.some(([id]) => id === seal.id));
  expect(sealsOfRecords.map((seal) => seal.id)).toEqual(records.map(([id]) => id));
  const start = stored.indexOf(sealsOfRecords[0]!);
  let prev: Buffer = start === 0 ? Buffer.alloc(32) : Buffer.from(stored[start - 1]!.hash, 'hex');
  let seq = start === 0 ? 0 : stored[start - 1]!.seq;
  records.forEach(([id, fields], i) => {
    seq += 1;
    const hash = documentedHash(prev, seq, id, fields);
    expect(sealsOfRecords[i]).toEqual({ id, seq, hash: hash.toString('hex') });
    prev = hash;
  });
  return stored;
}

/**
 * Rewrites a stream as someone with write access to Redis would: every entry copied, with the same
 * ids, into a new stream through `edit` (which may change, drop or add entries), then renamed over
 * the original.
 */
export async function rewriteStream(
  redis: RedisClient,
  key: string,
  edit: (entry: Entry) => Entry[],
): Promise<void> {
  const copy = `${key}:rewrite`;
  for (const entry of await entries(redis, key)) {
    for (const [id, fields] of edit(entry)) await redis.xadd(copy, id, ...fields);
  }
  await redis.rename(copy, key);
}

/** The fields with one value replaced. */
export function withField(fields: Buffer[], name: string, value: string | Buffer): Buffer[] {
  const out = [...fields];
  const at = out.findIndex((field, i) => i % 2 === 0 && field.toString() === name);
  out[at + 1] = Buffer.isBuffer(value) ? value : Buffer.from(value);
  return out;
}
