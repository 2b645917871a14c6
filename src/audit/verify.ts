import { compareIds, entryTime, fieldOf, GENESIS, type Seal, type StoredRecord, sealHash } from './chain.js';
import type { AuditChainStore } from './chain-store.js';

/**
 * Checks the stored chain (`/ops audit verify`): recomputes every sealed record's hash from the
 * stored hash before it and compares it with its own stored hash, a page of seals (and the records
 * in their range) at a time. Comparing each link with the stored hash before it, rather
 * than carrying one recomputed chain to the end, says which record broke: a record changed after
 * it was sealed breaks its own link only; a stored hash changed breaks its link and the next,
 * which still chains from the hash the record should have.
 *
 * Records older than the retention period may be gone at any time (the writers trim them): their
 * seals are then where the chain is checked from. Any other record whose seal is kept but which is
 * gone was deleted. What cannot be told from Redis alone: records removed from the end together
 * with their seals, or a chain rewritten from some record on. The `auditChain` log lines shipped
 * elsewhere hold the hashes to compare the head (and any record) with.
 */

/** Records older than the retention period by less than this are not yet counted as dropped. */
const CLOCK_SKEW_MS = 60_000;
const PAGE = 1_000;
/** Problems kept to report (the first ones; all are counted), so a wrecked chain cannot fill memory. */
const PROBLEMS_KEPT = 100;

/** A record as a report names it. */
export interface RecordRef {
  id: string;
  /** When Redis recorded it (its id's milliseconds). */
  at: number;
  seq: number;
  kind: string;
  request: string;
}

/** A sealed record, or where one was (its seal's id and number) when the record is gone. */
export type SealedRef = RecordRef | { id: string; at: number; seq: number };

export type ChainProblem =
  /** The record's link is broken; `certain` unless the next one could not tell (see verify.ts). */
  | { kind: 'changed'; record: RecordRef; certain: boolean }
  /** The record still chains, but its stored hash was changed. */
  | { kind: 'hash-changed'; record: RecordRef }
  /** The record was deleted; its seal is kept. */
  | { kind: 'missing'; record: SealedRef }
  /** Records `fromSeq`–`toSeq` before `before` are gone with their seals. */
  | { kind: 'gap'; before: SealedRef; fromSeq: number; toSeq: number }
  /** The seal the chain's oldest kept part chains from is gone (and any kept records before it). */
  | { kind: 'no-anchor'; before: SealedRef }
  /** A record inside the sealed range that has no seal: added after its neighbours were sealed. */
  | { kind: 'unsealed'; record: Omit<RecordRef, 'seq'> };

export interface ChainReport {
  /** Sealed records found and checked. */
  checked: number;
  first: RecordRef | undefined;
  /** The newest sealed record, and its stored hash (hex): the head to compare with the logs. */
  head: (RecordRef & { hash: string }) | undefined;
  /** The first problems found, in chain order (at most PROBLEMS_KEPT). */
  problems: ChainProblem[];
  /** How many problems were found in all. */
  problemCount: number;
  /** Newer records the sealer has yet to seal. */
  unsealed: number;
}

export async function verifyAuditChain(chain: AuditChainStore, now = Date.now()): Promise<ChainReport> {
  const walk = new ChainWalk(now - chain.retentionMs + CLOCK_SKEW_MS);
  let after: string | undefined;
  for (;;) {
    const { seals, records } = await chain.page(after, PAGE);
    if (seals.length === 0) break;
    walk.page(seals, records);
    after = seals.at(-1)!.id;
  }
  walk.settle();
  return { ...walk.result(), unsealed: await chain.unsealedCount() };
}

/** Walks the chain in order, seal by seal, keeping what the next link needs. */
class ChainWalk {
  readonly problems: ChainProblem[] = [];
  problemCount = 0;
  checked = 0;
  first: RecordRef | undefined;
  head: (RecordRef & { hash: string }) | undefined;
  /** The stored seal before the next one; undefined until the chain's start is found. */
  #prev: Seal | undefined;
  /** A record whose link broke, judged once the next one shows whether its hash was changed. */
  #pending: { record: RecordRef; computed: Buffer } | undefined;

  constructor(
    /** Records older than this (ms) may have been dropped by retention. */
    readonly droppableBefore: number,
  ) {}

  page(seals: Seal[], records: StoredRecord[]): void {
    let r = 0;
    for (const seal of seals) {
      while (r < records.length && compareIds(records[r]!.id, seal.id) < 0) this.unsealed(records[r++]!);
      const record = r < records.length && records[r]!.id === seal.id ? records[r++] : undefined;
      this.seal(seal, record);
    }
    while (r < records.length) this.unsealed(records[r++]!);
  }

  seal(seal: Seal, record: StoredRecord | undefined): void {
    if (!record && entryTime(seal.id) < this.droppableBefore) {
      // Dropped by retention: the chain goes on from its seal.
      this.settle();
      this.#prev = seal;
      return;
    }
    const expected = this.#prev ? this.#prev.seq + 1 : 1;
    const linked = seal.seq === expected;
    if (!linked) {
      const before = record
        ? refOf(record, seal.seq)
        : { id: seal.id, at: entryTime(seal.id), seq: seal.seq };
      this.#problem(
        this.#prev
          ? { kind: 'gap', before, fromSeq: expected, toSeq: seal.seq - 1 }
          : { kind: 'no-anchor', before },
      );
    }
    if (!record) {
      this.settle();
      this.#problem({ kind: 'missing', record: { id: seal.id, at: entryTime(seal.id), seq: seal.seq } });
      this.#prev = seal;
      return;
    }
    const ref = refOf(record, seal.seq);
    this.checked += 1;
    this.first ??= ref;
    this.head = { ...ref, hash: seal.hash.toString('hex') };
    if (!linked) {
      this.settle();
      this.#prev = seal;
      return;
    }
    const computed = sealHash(this.#prev?.hash ?? GENESIS, seal.seq, record);
    const holds = computed.equals(seal.hash);
    const pending = this.#pending;
    this.#pending = undefined;
    this.#prev = seal;
    if (pending) {
      if (!holds && sealHash(pending.computed, seal.seq, record).equals(seal.hash)) {
        // This record chains from the hash the one before should have: that one's hash was changed.
        this.#problem({ kind: 'hash-changed', record: pending.record });
        return;
      }
      this.#problem({ kind: 'changed', record: pending.record, certain: true });
    }
    if (!holds) this.#pending = { record: ref, computed };
  }

  unsealed(record: StoredRecord): void {
    const { seq: _, ...ref } = refOf(record, 0);
    this.#problem({ kind: 'unsealed', record: ref });
  }

  #problem(problem: ChainProblem): void {
    this.problemCount += 1;
    if (this.problems.length < PROBLEMS_KEPT) this.problems.push(problem);
  }

  /** A broken link with no next record to judge it by. */
  settle(): void {
    if (this.#pending) this.#problem({ kind: 'changed', record: this.#pending.record, certain: false });
    this.#pending = undefined;
  }

  result(): Omit<ChainReport, 'unsealed'> {
    const { checked, first, head, problems, problemCount } = this;
    return { checked, first, head, problems, problemCount };
  }
}

function refOf(record: StoredRecord, seq: number): RecordRef {
  return {
    id: record.id,
    at: entryTime(record.id),
    seq,
    kind: fieldOf(record, 'kind'),
    request: fieldOf(record, 'request'),
  };
}

/** One line for the audit record of a check: what it found. */
export function reportSummary(report: ChainReport): string {
  const { problemCount } = report;
  if (problemCount > 0) {
    return `broken: ${problemCount} ${problemCount === 1 ? 'problem' : 'problems'} in ${report.checked} sealed records`;
  }
  if (!report.head) return `nothing sealed yet; ${report.unsealed} unsealed records`;
  return `intact: ${report.checked} records, seq ${report.first!.seq}–${report.head.seq}, head ${report.head.hash}`;
}
