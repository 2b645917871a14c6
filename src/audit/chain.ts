import { hash } from 'node:crypto';

/**
 * The audit chain: every record of the audit stream (`<prefix>:audit`) is sealed, in order, with
 * a hash that covers the record and the hash of the one before it, so that changing, removing or
 * inserting a sealed record breaks every link from there on. The hash of record number `seq`:
 *
 *   SHA-256( prev ‖ u64be(seq) ‖ u32be(len id) ‖ id ‖ u32be(n) ‖ n × (u32be(len field) ‖ field) )
 *
 * `prev` is the previous record's hash (32 zero bytes before the first), `seq` counts sealed
 * records from 1, `id` is the stream entry id (`1732406574926-0`, the time Redis recorded it) and
 * the fields are the entry's names and values, in their stored order, as the bytes Redis holds.
 * Every piece carries its length, so no two different records encode alike. This is the format
 * an outside tool needs to check the chain the logs carry (README, "The audit trail").
 */

/** The `prev` of the first record ever sealed. */
export const GENESIS = Buffer.alloc(32);

/** An audit stream entry as Redis holds it: its id and its field/value list, as bytes. */
export interface StoredRecord {
  id: string;
  fields: Buffer[];
}

/** A record's place in the chain: its entry id, its number and its hash. */
export interface Seal {
  id: string;
  seq: number;
  hash: Buffer;
}

/** The record's hash, chained to `prev`: one buffer, one SHA-256 call (the sealer's cost per record). */
export function sealHash(prev: Buffer, seq: number, record: StoredRecord): Buffer {
  let size = 32 + 8 + 4 + record.id.length + 4;
  for (const field of record.fields) size += 4 + field.length;
  const input = Buffer.allocUnsafe(size);
  prev.copy(input, 0);
  input.writeUInt32BE(Math.floor(seq / 2 ** 32), 32);
  input.writeUInt32BE(seq >>> 0, 36);
  let at = input.writeUInt32BE(record.id.length, 40);
  at += input.write(record.id, at, 'latin1');
  at = input.writeUInt32BE(record.fields.length, at);
  for (const field of record.fields) {
    at = input.writeUInt32BE(field.length, at);
    at += field.copy(input, at);
  }
  return hash('sha256', input, 'buffer');
}

/** The value of a record's field as text ('' when it has none). */
export function fieldOf(record: StoredRecord, name: string): string {
  for (let i = 0; i + 1 < record.fields.length; i += 2) {
    if (record.fields[i]!.toString() === name) return record.fields[i + 1]!.toString();
  }
  return '';
}

/** When Redis recorded an entry: the milliseconds part of its id. */
export function entryTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** Orders stream entry ids as Redis does (milliseconds, then sequence within the millisecond). */
export function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(Number) as [number, number];
  const [bMs, bSeq] = b.split('-').map(Number) as [number, number];
  return aMs - bMs || aSeq - bSeq;
}
