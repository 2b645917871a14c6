import type { RedisClient } from '../jobs/queues.js';
import { namedArgs } from '../requests/script-args.js';
import type { Seal, StoredRecord } from './chain.js';
import { APPEND_SEALS, COUNT_UNSEALED, READ_PAGE } from './chain-scripts.js';

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
    redis.defineCommand('opsAuditReadPage', { lua: READ_PAGE });
  }

  /** The last seal: where the chain ends. */
  async head(): Promise<Seal | undefined> {
    const [last] = await this.redis.xrevrangeBuffer(this.chainKey, '+', '-', 'COUNT', 1);
    return last ? toSeal(last) : undefined;
  }

  /** Up to `count` audit records after the entry `after` (from the oldest kept when undefined). */
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
   * Appends `seals` if the chain still ends at `head` (the caller's view of it); false when
   * another sealer appended first, and nothing was written.
   */
  async append(head: string | undefined, seals: Seal[], now = Date.now()): Promise<boolean> {
    const appended = await (this.redis as unknown as Scripts).opsAuditAppendSeals(
      ...namedArgs(
        { audit: this.auditKey, chain: this.chainKey },
        {
          head,
          seals: seals.map((seal) => [seal.id, seal.seq, seal.hash.toString('hex')]),
          minId: `${Math.max(0, now - this.retentionMs)}-0`,
        },
      ),
    );
    return appended === 1;
  }

  /** Up to `count` seals after `after`, with every audit record in their range of ids. */
  async page(after: string | undefined, count: number): Promise<{ seals: Seal[]; records: StoredRecord[] }> {
    const [seals, records] = await (this.redis as unknown as Scripts).opsAuditReadPageBuffer(
      ...namedArgs({ audit: this.auditKey, chain: this.chainKey }, { after, count }),
    );
    return { seals: seals.map(toSeal), records: records.map(toRecord) };
  }

  /**
   * How many audit records the sealer has yet to seal. Read by every `/metrics` refresh: a plain
   * EVAL is one command, where a defined command's first call in a Redis is two (NOSCRIPT, EVAL).
   */
  async unsealedCount(): Promise<number> {
    return Number(await this.redis.eval(COUNT_UNSEALED, 2, this.auditKey, this.chainKey));
  }
}

type StreamEntry = [id: Buffer, fields: Buffer[]];

interface Scripts {
  opsAuditAppendSeals(keyCount: number, ...args: string[]): Promise<number>;
  opsAuditReadPageBuffer(keyCount: number, ...args: string[]): Promise<[StreamEntry[], StreamEntry[]]>;
}

function toRecord([id, fields]: StreamEntry): StoredRecord {
  return { id: id.toString('latin1'), fields };
}

/** A seal entry: fields `n` (its number) and `h` (its hash). */
function toSeal([id, fields]: StreamEntry): Seal {
  let seq = 0;
  let hash: Buffer = Buffer.alloc(0);
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString();
    if (name === 'n') seq = Number(fields[i + 1]!.toString());
    else if (name === 'h') hash = fields[i + 1]!;
  }
  return { id: id.toString('latin1'), seq, hash };
}
