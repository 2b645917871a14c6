import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { AuditChainStore } from '../../src/audit/chain-store.js';
import { createAuditSealer } from '../../src/audit/sealer.js';
import { verifyAuditChain } from '../../src/audit/verify.js';
import { createLogger } from '../../src/log.js';
import { RequestStore } from '../../src/requests/store.js';
import { deleteKeys } from '../support/harness.js';
import { documentedHash, entries, expectSealedInOrder, rewriteStream, seals, withField } from './support.js';

/**
 * The audit chain on a real Redis: records written by the request store, sealed by the sealer
 * (one Lua write per batch, refused if another sealer got there first), checked by the verifier,
 * and tampered with the way someone with write access to Redis would.
 */

const HOUR = 3_600_000;
const REQUEST = 'op-abcdef12';

let redis: Redis;
let prefix: string;
let store: RequestStore;
let chain: AuditChainStore;
let logLines: string[];
let seal: ReturnType<typeof createAuditSealer>;

beforeEach(() => {
  prefix = `t${randomBytes(5).toString('hex')}`;
  redis = new Redis(inject('redisUrl'));
  store = new RequestStore(redis, prefix, { retentionMs: HOUR });
  chain = new AuditChainStore(redis, store.auditKey(), HOUR);
  logLines = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  seal = createAuditSealer(chain, createLogger({ destination: sink }));
});
afterEach(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

/** Records as the run pipeline writes them: vendor calls audited under a request. */
async function writeRecords(count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i += 1) {
    await store.audit({ kind: 'vendor-call', text: `arcgis/prod GET /jobs/${i} → HTTP 200` }, REQUEST, false);
  }
}

/**
 * Records with ids 10 ms apart, `msAgo` before now (the request store's field layout), so that a
 * test can place a record between two others or make some older than the retention period.
 */
async function writeRecordsAt(msAgo: number, count: number): Promise<string[]> {
  const base = Date.now() - msAgo;
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = `${base + 10 * i}-0`;
    const fields = ['request', REQUEST, 'kind', 'status', 'actor', '', 'text', `status ${i}`];
    await redis.xadd(store.auditKey(), id, ...fields);
    ids.push(id);
  }
  return ids;
}

describe('the sealer', () => {
  it('seals every record in order, each hash chaining the one before, in batches', async () => {
    await writeRecords(1_050);

    expect(await seal()).toEqual({ sealed: 1_050, raced: false });

    const stored = await expectSealedInOrder(redis, store.auditKey());
    expect(stored.map((s) => s.seq)).toEqual(Array.from({ length: 1_050 }, (_, i) => i + 1));
    // Nothing new: nothing sealed, nothing changed.
    expect(await seal()).toEqual({ sealed: 0, raced: false });
    await writeRecords(3, 1_050);
    expect(await seal()).toEqual({ sealed: 3, raced: false });
    expect((await expectSealedInOrder(redis, store.auditKey())).at(-1)?.seq).toBe(1_053);
  });

  it('logs each batch it seals: the hash before it, and every record’s id and hash', async () => {
    await writeRecords(150);
    await seal();
    const batches = logLines
      .map((line) => JSON.parse(line))
      .filter((line) => line.auditChain)
      .map((line) => line.auditChain as { seq: number; prev: string; records: Array<[string, string]> });
    expect(batches.map((batch) => [batch.seq, batch.records.length])).toEqual([
      [1, 100],
      [101, 50],
    ]);
    expect(batches[0]!.prev).toBe('0'.repeat(64));
    expect(batches[1]!.prev).toBe(batches[0]!.records.at(-1)![1]);
    const stored = await seals(redis, chain.chainKey);
    expect(batches.flatMap((batch) => batch.records)).toEqual(stored.map((s) => [s.id, s.hash]));
  });

  it('writes nothing when another sealer appended since it read the chain', async () => {
    await writeRecords(5);
    const records = await chain.recordsAfter(undefined, 100);
    let prev: Buffer = Buffer.alloc(32);
    const batch = records.map((record, i) => {
      prev = documentedHash(prev, i + 1, record.id, record.fields);
      return { id: record.id, seq: i + 1, hash: prev };
    });
    expect(await chain.append(undefined, batch)).toBe(true);
    // A second sealer that read the empty chain before that append: refused, nothing written.
    expect(await chain.append(undefined, batch)).toBe(false);
    expect(await chain.append(records[2]!.id, batch.slice(3))).toBe(false);
    expect(await redis.xlen(chain.chainKey)).toBe(5);
  });

  it('makes one chain when two sealers on two connections race while records keep coming', async () => {
    const other = new Redis(inject('redisUrl'));
    const rival = createAuditSealer(
      new AuditChainStore(other, store.auditKey(), HOUR),
      createLogger({ level: 'silent' }),
    );
    try {
      const results = [];
      for (let round = 0; round < 20; round += 1) {
        const [, a, b] = await Promise.all([writeRecords(30, round * 30), seal(), rival()]);
        results.push(a, b);
      }
      results.push(await seal());
      // Each record sealed by exactly one of them: none twice, none left out.
      expect(results.reduce((sum, result) => sum + result.sealed, 0)).toBe(600);
      const stored = await expectSealedInOrder(redis, store.auditKey());
      expect(stored).toHaveLength(600);
      expect(stored.map((s) => s.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
      expect((await verifyAuditChain(chain)).problems).toEqual([]);
    } finally {
      other.disconnect();
    }
  });
});

describe('verifying the chain', () => {
  it('reports an intact chain: how many records, from when to when, its head, what waits', async () => {
    const ids = await writeRecordsAt(60_000, 5);
    await seal();
    await writeRecords(2);

    const report = await verifyAuditChain(chain);

    const last = (await seals(redis, chain.chainKey)).at(-1)!;
    expect(report).toMatchObject({
      checked: 5,
      problems: [],
      unsealed: 2,
      first: { id: ids[0], seq: 1, kind: 'status', request: REQUEST, at: Number(ids[0]!.split('-')[0]) },
      head: { id: ids[4], seq: 5, hash: last.hash },
    });
  });

  it('finds a record whose text was changed after it was sealed, and names it', async () => {
    const ids = await writeRecordsAt(60_000, 6);
    await seal();
    await rewriteStream(redis, store.auditKey(), ([id, fields]) => [
      [id, id === ids[2] ? withField(fields, 'text', 'status 2 (edited)') : fields],
    ]);

    const { problems, checked } = await verifyAuditChain(chain);

    expect(checked).toBe(6);
    expect(problems).toEqual([
      {
        kind: 'changed',
        certain: true,
        record: { id: ids[2], seq: 3, kind: 'status', request: REQUEST, at: Number(ids[2]!.split('-')[0]) },
      },
    ]);
  });

  it('keeps the first hundred problems of a wrecked chain, and counts them all', async () => {
    await writeRecordsAt(60_000, 150);
    await seal();
    await rewriteStream(redis, store.auditKey(), ([id, fields]) => [
      [id, withField(fields, 'text', 'wrecked')],
    ]);

    const report = await verifyAuditChain(chain);

    expect(report.problemCount).toBe(150);
    expect(report.problems).toHaveLength(100);
    expect(report.problems[0]).toMatchObject({ kind: 'changed', record: { seq: 1 } });
  });

  it('finds the newest record changed, though it cannot tell whether the record or its hash was', async () => {
    const ids = await writeRecordsAt(60_000, 3);
    await seal();
    await rewriteStream(redis, store.auditKey(), ([id, fields]) => [
      [id, id === ids[2] ? withField(fields, 'actor', 'U0INTRUDER') : fields],
    ]);

    expect((await verifyAuditChain(chain)).problems).toEqual([
      expect.objectContaining({
        kind: 'changed',
        certain: false,
        record: expect.objectContaining({ id: ids[2] }),
      }),
    ]);
  });

  it('finds a stored hash that was changed, and says the record itself still chains', async () => {
    const ids = await writeRecordsAt(60_000, 6);
    await seal();
    await rewriteStream(redis, chain.chainKey, ([id, fields]) => [
      [id, id === ids[3] ? withField(fields, 'h', randomBytes(32)) : fields],
    ]);

    expect((await verifyAuditChain(chain)).problems).toEqual([
      { kind: 'hash-changed', record: expect.objectContaining({ id: ids[3], seq: 4 }) },
    ]);
  });

  it('finds a record deleted from the middle, by its kept hash', async () => {
    const ids = await writeRecordsAt(60_000, 6);
    await seal();
    await redis.xdel(store.auditKey(), ids[3]!);

    const report = await verifyAuditChain(chain);

    expect(report.problems).toEqual([
      { kind: 'missing', record: { id: ids[3], seq: 4, at: Number(ids[3]!.split('-')[0]) } },
    ]);
    expect(report.checked).toBe(5);
  });

  it('finds records deleted with their hashes, by the numbers missing before the next', async () => {
    const ids = await writeRecordsAt(60_000, 6);
    await seal();
    for (const id of [ids[2]!, ids[3]!]) {
      await redis.xdel(store.auditKey(), id);
      await redis.xdel(chain.chainKey, id);
    }

    expect((await verifyAuditChain(chain)).problems).toEqual([
      { kind: 'gap', fromSeq: 3, toSeq: 4, before: expect.objectContaining({ id: ids[4], seq: 5 }) },
    ]);
  });

  it('finds a record slipped in between sealed ones', async () => {
    const ids = await writeRecordsAt(60_000, 4);
    await seal();
    const slipped = `${Number(ids[1]!.split('-')[0]) + 5}-0`;
    await rewriteStream(redis, store.auditKey(), (entry) =>
      entry[0] === ids[1]
        ? [
            entry,
            [slipped, [...entry[1].slice(0, 6), Buffer.from('text'), Buffer.from('approved by U0NOBODY')]],
          ]
        : [entry],
    );

    expect((await verifyAuditChain(chain)).problems).toEqual([
      { kind: 'unsealed', record: expect.objectContaining({ id: slipped, kind: 'status' }) },
    ]);
  });

  it('checks the records retention keeps from the hash of the last one it dropped', async () => {
    // Records older than the retention period, sealed, then trimmed as the writers trim them.
    await writeRecordsAt(2 * HOUR, 4);
    const kept = await writeRecordsAt(30 * 60_000, 3);
    await seal();
    await redis.xtrim(store.auditKey(), 'MINID', String(Date.now() - HOUR));
    expect(await redis.xlen(store.auditKey())).toBe(3);

    expect(await verifyAuditChain(chain)).toMatchObject({
      checked: 3,
      problems: [],
      first: { id: kept[0], seq: 5 },
      head: { id: kept[2], seq: 7 },
    });

    // The next batch drops the seals of trimmed records but the last one, the chain's anchor.
    await writeRecords(1);
    await seal();
    expect((await seals(redis, chain.chainKey)).map((s) => s.seq)).toEqual([4, 5, 6, 7, 8]);
    await expectSealedInOrder(redis, store.auditKey());
    expect(await verifyAuditChain(chain)).toMatchObject({ checked: 4, problems: [], first: { seq: 5 } });

    // The oldest kept record deleted is no retention: it is newer than the retention period.
    await redis.xdel(store.auditKey(), kept[0]!);
    await writeRecords(1, 1);
    await seal();
    expect((await verifyAuditChain(chain)).problems).toEqual([
      { kind: 'missing', record: { id: kept[0], seq: 5, at: Number(kept[0]!.split('-')[0]) } },
    ]);
    // …and the sealer keeps its hash as evidence rather than dropping it as retention's.
    expect((await seals(redis, chain.chainKey)).map((s) => s.seq)).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it('drops the seals of many trimmed records a hundred at a time, always keeping the anchor', async () => {
    await writeRecordsAt(2 * HOUR, 150);
    await seal();
    await redis.xtrim(store.auditKey(), 'MINID', String(Date.now() - HOUR));
    await writeRecords(1);
    await seal();
    expect((await seals(redis, chain.chainKey)).map((s) => s.seq)).toEqual([100, ...range(101, 151)]);
    expect(await verifyAuditChain(chain)).toMatchObject({ checked: 1, problems: [], first: { seq: 151 } });
    await writeRecords(1, 1);
    await seal();
    expect((await seals(redis, chain.chainKey)).map((s) => s.seq)).toEqual([150, 151, 152]);
    expect(await verifyAuditChain(chain)).toMatchObject({ checked: 2, problems: [], first: { seq: 151 } });
  });

  it('finds the anchor the kept records chain from deleted', async () => {
    await writeRecordsAt(2 * HOUR, 2);
    const kept = await writeRecordsAt(30 * 60_000, 2);
    await seal();
    await redis.xtrim(store.auditKey(), 'MINID', String(Date.now() - HOUR));
    await writeRecords(1);
    await seal();
    const [anchor] = await seals(redis, chain.chainKey);
    await redis.xdel(chain.chainKey, anchor!.id);

    expect((await verifyAuditChain(chain)).problems).toEqual([
      { kind: 'no-anchor', before: expect.objectContaining({ id: kept[0], seq: 3 }) },
    ]);
  });
});

describe('records waiting for the sealer', () => {
  it('are counted without reading them, records dropped by retention aside', async () => {
    expect(await chain.unsealedCount()).toBe(0);
    await writeRecordsAt(2 * HOUR, 3);
    await writeRecords(4);
    expect(await chain.unsealedCount()).toBe(7);
    await seal();
    expect(await chain.unsealedCount()).toBe(0);
    await redis.xtrim(store.auditKey(), 'MINID', String(Date.now() - HOUR));
    await writeRecords(2, 4);
    expect(await chain.unsealedCount()).toBe(2);
    expect((await entries(redis, store.auditKey())).length).toBe(6);
  });
});

/** The numbers from `from` to `to`, both included. */
function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
