import type { RedisClient } from '../jobs/queues.js';
import { namedArgs } from '../requests/script-args.js';
import type { Seal, StoredRecord } from './chain.js';
import { APPEND_SEALS, COUNT_UNSEALED } from './chain-scripts.js';

/**
 * Where the audit chain lives in Redis: the seals, a stream beside the audit stream (see
 * chain-scripts.ts). Records are read as bytes, so the hash covers exactly what Redis holds.
 */
export class AuditChainStore {
  readonly chainKey: string;

  constructor(
    readonly redis: RedisClient,
    /** The audit stream (`RequestStore.auditKey()`). */
    readonly auditKey: string,
    /** How long audit records are kept (`audit.retention`): older ones may be gone. */
    readonly retentionMs: number,
  ) {
    this.chainKey = `${auditKey}:chain`;
    redis.defineCommand('opsAuditAppendSeals', { lua: APPEND_SEALS });
  }

  /** The last seal: where the chain ends. */
  async head(): Promise<Seal | undefined> {
    const [last] = await this.redis.xrevrangeBuffer(this.chainKey, '+', '-', 'COUNT', 1);
    return last ? toSeal(last) : undefined;
  }

  /**
   * Up to `count` audit records after the entry `after` (from the oldest kept when undefined).
   * A plain XRANGE: packing the answer in Lua would spare this process parsing it, but costs
   * Redis, which every process shares, about ten times what the XRANGE does.
   */
  async recordsAfter(after: string | undefined, count: number): Promise<StoredRecord[]> {
    const entries = await this.redis.xrangeBuffer(
      this.auditKey,
      after ? `(${after}` : '-',
      '+',
      'COUNT',
      count,
    );
    return entries.map(toRecord);
  }

  /**
   * Appends `seals` (consecutive, in order) if the chain still ends at `head` (the caller's view
   * of it); false when another sealer appended first, and nothing was written.
   */
  async append(head: string | undefined, seals: Seal[], now = Date.now()): Promise<boolean> {
    const [keyCount, ...args] = namedArgs(
      { audit: this.auditKey, chain: this.chainKey },
      {
        head,
        seq: seals[0]?.seq,
        ids: seals.map((seal) => seal.id),
        minId: `${Math.max(0, now - this.retentionMs)}-0`,
      },
    );
    const hashes = Buffer.concat(seals.map((seal) => seal.hash));
    return (await this.#scripts.opsAuditAppendSeals(keyCount, ...args, hashes)) === 1;
  }

  /**
   * Up to `count` seals after `after`, and every audit record in their range of ids. Two reads, not
   * one step: records can only be added after the last seal, or dropped before the first.
   */
  async page(after: string | undefined, count: number): Promise<{ seals: Seal[]; records: StoredRecord[] }> {
    const from = after ? `(${after}` : '-';
    const seals = (await this.redis.xrangeBuffer(this.chainKey, from, '+', 'COUNT', count)).map(toSeal);
    if (seals.length === 0) return { seals, records: [] };
    const records = await this.redis.xrangeBuffer(this.auditKey, from, seals.at(-1)!.id);
    return { seals, records: records.map(toRecord) };
  }

  /**
   * How many audit records the sealer has yet to seal. Read by every `/metrics` refresh: a plain
   * EVAL is one command, where a defined command's first call in a Redis is two (NOSCRIPT, EVAL).
   */
  async unsealedCount(): Promise<number> {
    return Number(await this.redis.eval(COUNT_UNSEALED, 2, this.auditKey, this.chainKey));
  }

  get #scripts(): Scripts {
    return this.redis as unknown as Scripts;
  }
}

type StreamEntry = [id: Buffer, fields: Buffer[]];

interface Scripts {
  opsAuditAppendSeals(keyCount: number, ...args: Array<string | Buffer>): Promise<number>;
}

function toRecord([id, fields]: StreamEntry): StoredRecord {
  return { id: id.toString('latin1'), fields };
}

/** A seal entry: fields `n` (its number) and `h` (its hash). */
function toSeal(entry: StreamEntry): Seal {
  const { id, fields } = toRecord(entry);
  let seq = 0;
  let hash: Buffer = Buffer.alloc(0);
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString();
    if (name === 'n') seq = Number(fields[i + 1]!.toString());
    else if (name === 'h') hash = fields[i + 1]!;
  }
  return { id, seq, hash };
}
