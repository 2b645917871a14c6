import type { Logger } from 'pino';
import { GENESIS, type Seal, sealHash } from './chain.js';
import type { AuditChainStore } from './chain-store.js';

/**
 * The sealer: the periodic `seal-audit` job that chains the audit records written since it last
 * ran. Writers never hash (a record costs Redis nothing more than its XADD); the sealer reads the
 * records after the chain's end, in order, hashes them here and appends their seals in one write
 * per batch that holds only if the chain still ends where it read it. So a crash mid-batch leaves
 * the chain as it was, and two sealers at once (a slow run overlapping the next) cannot fork it:
 * the second one's write is refused and it stops.
 *
 * Each batch is logged, before it is written, as `auditChain` lines of up to 100 records: the
 * number of the line's first record, the hash before it, and each record's id and hash. Log lines shipped elsewhere are the
 * copy of the chain that whoever can write to Redis cannot rewrite. The hashes depend only on the
 * records, so a record logged twice (a crash before its batch was written, a sealer that lost the
 * race) is logged with the same number and hash each time.
 */

/** Records per batch: one read and one write each (most of the cost is per call, not per record). */
const BATCH = 1_000;
/** Records per log line: 100 make about 9 KB, under the 16 KB at which Docker splits a line. */
const PER_LINE = 100;
/** Records one run seals at most; the next run goes on from there. */
const MAX_PER_RUN = 50_000;

export interface SealResult {
  sealed: number;
  /** Another sealer appended while this one worked: it stopped, leaving the rest to that one. */
  raced: boolean;
}

export function createAuditSealer(chain: AuditChainStore, log: Logger) {
  return async (): Promise<SealResult> => {
    let head = await chain.head();
    let sealed = 0;
    while (sealed < MAX_PER_RUN) {
      const records = await chain.recordsAfter(head?.id, BATCH);
      if (records.length === 0) break;
      const prev = head?.hash ?? GENESIS;
      let seq = head?.seq ?? 0;
      let hash = prev;
      const seals: Seal[] = records.map((record) => {
        seq += 1;
        hash = sealHash(hash, seq, record);
        return { id: record.id, seq, hash };
      });
      logSeals(log, prev, seals);
      if (!(await chain.append(head?.id, seals))) return { sealed, raced: true };
      head = seals.at(-1)!;
      sealed += seals.length;
      if (records.length < BATCH) break;
    }
    return { sealed, raced: false };
  };
}

/** The batch as `auditChain` log lines of PER_LINE records each. */
function logSeals(log: Logger, prev: Buffer, seals: Seal[]): void {
  for (let at = 0; at < seals.length; at += PER_LINE) {
    const line = seals.slice(at, at + PER_LINE);
    const before = at === 0 ? prev : seals[at - 1]!.hash;
    const records = line.map((seal) => [seal.id, seal.hash.toString('hex')]);
    log.info(
      { auditChain: { seq: line[0]!.seq, prev: before.toString('hex'), records } },
      'audit records sealed',
    );
  }
}
