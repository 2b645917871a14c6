import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { OutboxBatch } from '../slack/outbox.js';
import type { ActionProgress } from '../vendors/types.js';
import { CREATE, PATCH, READ, TIMELINE, TRANSITION } from './store-scripts.js';
import { FINAL_STATES, type OpsRequest, type RequestState, type TimelineEvent } from './types.js';

/**
 * Each request lives in Redis as a hash of its short fields (`req:<id>`), the fields that can be
 * long (`req:<id>:long`) and its timeline (`req:<id>:timeline`). Every state change is one Lua
 * script that checks the current state and writes the new one, so "pending → approved" happens
 * exactly once however many processes race for it.
 *
 * Why the long fields apart: Redis keeps a hash in its compact listpack form only while every
 * value is at most `hash-max-listpack-value` (64 bytes by default); one longer value turns the
 * whole hash into a hashtable for good, about three times the size. So the record's many short
 * fields stay in a hash of their own, and the long ones are a list of name/value pairs (a small
 * list is one listpack whatever the length of its values; see WRITE_FIELDS in store-scripts.ts).
 *
 * Every event is stored once, in the audit stream; a request's timeline is the list of its
 * events' entry ids there (routine reads, such as job polls, are audited but left out of it).
 */

type RedisClient = Redis | Cluster;

/** Fields whose values can exceed 64 bytes (JSON, URLs, sentences): they go to `req:<id>:long`. */
const LONG_FIELDS = new Set(['args', 'summary', 'progress', 'outcome', 'responseUrl']);

const JSON_FIELDS = new Set(['args', 'summary', 'progress']);
const NUMBER_FIELDS = new Set([
  'createdAt',
  'expiresAt',
  'version',
  'decidedAt',
  'startedAt',
  'submittedAt',
  'deadlineAt',
  'finishedAt',
  'reported',
  'faults',
]);

/** What else a patch does in the same step (see RequestStore.patch). */
export interface PatchAlso {
  /** Slack messages to queue in the request's outbox (Outbox.batch). */
  outbox?: OutboxBatch | undefined;
  /**
   * A resource lock the request holds: renew its lease, or take it back if it lapsed and is free.
   * `required`: the write is made only if the lock is (or becomes) this request's.
   */
  lease?: { key: string; ms: number; required?: boolean } | undefined;
  /** Events for the audit trail only (routine vendor reads), recorded before `event`. */
  audit?: Array<Omit<TimelineEvent, 'at'>> | undefined;
}

export interface PatchResult {
  /** `/ops cancel` was asked and no worker has acted on it yet. */
  cancelAwaits: boolean;
  /**
   * With a lease: the request holding the lock after the write. Another request's means a required
   * lease was refused, and only the audit-only events were recorded.
   */
  lockHolder?: string | undefined;
}

/** A transition's answer: made, or why not (the state the request is in, missing, or too late). */
export type TransitionResult = { ok: true } | { ok: false; state: RequestState | 'missing' | 'late' };

export type NewRequest = Omit<
  OpsRequest,
  'id' | 'state' | 'version' | 'phase' | 'reported' | 'faults' | 'correlationId'
>;

/**
 * One audit record. Read back from Redis, its `at` is when Redis recorded it (the stream entry's
 * id), moments after the `at` it was logged with; so is a timeline event's.
 */
export interface AuditRecord extends TimelineEvent {
  requestId: string | undefined;
}

export interface StoreOptions {
  /** How long finished requests and audit records are kept. Default 90 days. */
  retentionMs?: number;
  /** Called with every audit record written (opsbot logs them as JSON). */
  onAudit?: (record: AuditRecord) => void;
}

export class RequestStore {
  readonly retentionMs: number;
  readonly #onAudit: (record: AuditRecord) => void;

  constructor(
    readonly redis: RedisClient,
    readonly prefix: string,
    options: StoreOptions = {},
  ) {
    this.retentionMs = options.retentionMs ?? 90 * 86_400_000;
    this.#onAudit = options.onAudit ?? (() => {});
    // Five keys, and the lock to release when a run ends: the caller says how many.
    redis.defineCommand('opsTransition', { lua: TRANSITION });
    redis.defineCommand('opsCreate', { numberOfKeys: 6, lua: CREATE });
    // Four keys, six with outbox items, and one more with a lease: the caller says how many.
    redis.defineCommand('opsPatch', { lua: PATCH });
    redis.defineCommand('opsTimeline', { numberOfKeys: 2, lua: TIMELINE });
    redis.defineCommand('opsRead', { numberOfKeys: 2, lua: READ });
  }

  /** The append-only audit trail of every request, bounded by the retention period. */
  auditKey(): string {
    return `${this.prefix}:audit`;
  }

  private auditMinId(now = Date.now()): string {
    return String(Math.max(0, now - this.retentionMs));
  }

  /**
   * Records an event in the audit trail, and in the request's timeline too unless `timeline` is
   * false (routine reads: the timeline is what `/ops status` shows, and a job polled every few
   * seconds for hours would bury it). Without a request id, it is audit only (a refused command).
   */
  async audit(event: Omit<TimelineEvent, 'at'>, requestId?: string, timeline = true): Promise<void> {
    const record = { at: Date.now(), ...event };
    if (requestId && timeline) return this.addEvent(requestId, event);
    await this.redis.xadd(
      this.auditKey(),
      'MINID',
      '~',
      this.auditMinId(),
      '*',
      ...auditFields(event, requestId),
    );
    this.#onAudit({ ...record, requestId });
  }

  /** Newest audit records first. */
  async auditTrail(limit: number): Promise<AuditRecord[]> {
    const entries = await this.redis.xrevrange(this.auditKey(), '+', '-', 'COUNT', limit);
    return entries.map(auditRecord);
  }

  key(id: string): string {
    return `${this.prefix}:req:${id}`;
  }
  /** The request's fields that can be long (see LONG_FIELDS). */
  longKey(id: string): string {
    return `${this.prefix}:req:${id}:long`;
  }
  timelineKey(id: string): string {
    return `${this.prefix}:req:${id}:timeline`;
  }
  channelIndexKey(channel: string): string {
    return `${this.prefix}:chan:${channel}`;
  }
  allIndexKey(): string {
    return `${this.prefix}:requests`;
  }
  /** Approved requests whose run job may not be queued yet (the enqueue outbox). */
  toEnqueueKey(): string {
    return `${this.prefix}:to-enqueue`;
  }

  /**
   * Records a new request under `id` (chosen by whoever received the command). Creating the same
   * request again (a worker retrying after a crash) answers the one already recorded; should `id`
   * belong to another request (ids are random, so practically never), a fresh id is drawn.
   */
  async create(fields: NewRequest, id = newRequestId()): Promise<OpsRequest> {
    let candidate = id;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const request: OpsRequest = {
        ...fields,
        id: candidate,
        state: 'pending',
        version: 1,
        phase: 'queued',
        reported: 0,
        faults: 0,
        correlationId: randomBytes(8).toString('hex'),
      };
      const event: TimelineEvent = {
        at: request.createdAt,
        kind: 'requested',
        actor: request.requester,
        text: 'requested',
      };
      const created = await (this.redis as unknown as Scripts).opsCreate(
        this.key(request.id),
        this.longKey(request.id),
        this.timelineKey(request.id),
        this.channelIndexKey(request.channel),
        this.allIndexKey(),
        this.auditKey(),
        request.id,
        String(request.createdAt),
        this.auditMinId(),
        String(this.retentionMs),
        ...auditFields(event, request.id),
        ...scriptFields(request),
      );
      if (created === 1) {
        this.#onAudit({ ...event, requestId: request.id });
        return request;
      }
      const existing = await this.get(candidate);
      if (
        existing &&
        existing.requester === fields.requester &&
        existing.createdAt === fields.createdAt &&
        existing.channel === fields.channel
      ) {
        return existing;
      }
      candidate = newRequestId();
    }
    throw new Error('could not allocate a request id');
  }

  /** The record and its long fields, read together (one round trip, one consistent view). */
  async get(id: string): Promise<OpsRequest | undefined> {
    // One script rather than MULTI: both parts at once, and no pipeline object per read.
    const [record, long] = await (this.redis as unknown as Scripts).opsRead(this.key(id), this.longKey(id));
    return this.fromFields(record, long);
  }

  /**
   * A request from the flat field/value lists a script answers for HGETALL of `key(id)` and
   * LRANGE of `longKey(id)`; undefined if there is no record.
   */
  fromFields(record: string[], long: string[]): OpsRequest | undefined {
    // One pass over both flat lists, straight into the request: this runs for every step and
    // every message delivered, so no intermediate pairs or objects.
    const out: Record<string, unknown> = {};
    decodeInto(out, record);
    decodeInto(out, long);
    return out.id ? (out as unknown as OpsRequest) : undefined;
  }

  async timeline(id: string): Promise<TimelineEvent[]> {
    const entries = await (this.redis as unknown as Scripts).opsTimeline(
      this.timelineKey(id),
      this.auditKey(),
    );
    return entries.map((entry) => {
      const { requestId: _, ...event } = auditRecord(entry);
      return event;
    });
  }

  /**
   * Moves a request from one of `from` to `to`, writing `fields` and a timeline event, atomically.
   * `notAfterExpiry` refuses the change once the approval window has passed (a late click).
   * `markToEnqueue` records the id in the enqueue outbox in the same step. `releaseLock` frees a
   * lock the request holds, whatever the answer.
   * A run's last step also records its routine vendor reads (`audit`, recorded whatever the
   * answer), its own events before the transition's (`events`), and queues its closing messages
   * (`outbox`, only if the state changes): its whole end is one write.
   */
  async transition(
    id: string,
    from: RequestState[],
    to: RequestState,
    event: Omit<TimelineEvent, 'at'>,
    fields: Partial<OpsRequest> = {},
    options: {
      notAfterExpiry?: boolean;
      markToEnqueue?: boolean;
      now?: number;
      releaseLock?: string | undefined;
      audit?: Array<Omit<TimelineEvent, 'at'>> | undefined;
      events?: Array<Omit<TimelineEvent, 'at'>> | undefined;
      outbox?: OutboxBatch | undefined;
    } = {},
  ): Promise<TransitionResult> {
    const now = options.now ?? Date.now();
    const { audit = [], outbox } = options;
    const events = [...(options.events ?? []), event];
    const keys = [this.key(id), this.longKey(id), this.timelineKey(id), this.toEnqueueKey(), this.auditKey()];
    if (outbox) keys.push(outbox.listKey, outbox.seenKey);
    if (options.releaseLock) keys.push(options.releaseLock);
    const status = await (this.redis as unknown as Scripts).opsTransition(
      keys.length,
      ...keys,
      from.join(','),
      to,
      options.notAfterExpiry ? '1' : '',
      String(now),
      options.markToEnqueue ? id : '',
      this.auditMinId(now),
      // Finished requests are kept for the retention period, then Redis drops them.
      FINAL_STATES.has(to) ? String(Math.ceil(this.retentionMs / 1000)) : '',
      options.releaseLock ? id : '',
      String(audit.length),
      ...audit.flatMap((entry) => auditFields(entry, id)),
      String(events.length),
      ...events.flatMap((entry) => auditFields(entry, id)),
      String((outbox?.entries.length ?? 0) / 2),
      ...(outbox?.entries ?? []),
      ...scriptFields(fields),
    );
    for (const entry of audit) this.#onAudit({ at: now, ...entry, requestId: id });
    if (status !== 'ok') return { ok: false, state: status as RequestState | 'missing' | 'late' };
    for (const entry of events) this.#onAudit({ at: now, ...entry, requestId: id });
    return { ok: true };
  }

  /**
   * Writes run fields that do not change the state (progress, counters) and, if given, an event
   * (to the audit trail and the request's timeline), together. A run step also records its
   * routine vendor reads (`also.audit`), queues its Slack messages (`also.outbox`) and renews its
   * resource lock (`also.lease`) in the same step, and learns from the answer whether a cancel
   * awaits it.
   */
  async patch(
    id: string,
    fields: Partial<OpsRequest>,
    event?: Omit<TimelineEvent, 'at'>,
    also: PatchAlso = {},
  ): Promise<PatchResult> {
    const at = Date.now();
    const { outbox, lease, audit = [] } = also;
    const keys = [this.key(id), this.longKey(id), this.timelineKey(id), this.auditKey()];
    if (outbox) keys.push(outbox.listKey, outbox.seenKey);
    if (lease) keys.push(lease.key);
    const [asked, vendorCancel, holder] = await (this.redis as unknown as Scripts).opsPatch(
      keys.length,
      ...keys,
      this.auditMinId(at),
      ...(event ? auditFields(event, id) : ['']),
      String(audit.length),
      ...audit.flatMap((entry) => auditFields(entry, id)),
      String((outbox?.entries.length ?? 0) / 2),
      ...(outbox?.entries ?? []),
      ...(lease ? [String(Math.ceil(lease.ms)), id, lease.required ? '1' : ''] : ['', '', '']),
      ...scriptFields(fields),
    );
    for (const entry of audit) this.#onAudit({ at, ...entry, requestId: id });
    const lockHolder = holder ?? undefined;
    if (lockHolder && lockHolder !== id && lease?.required) return { cancelAwaits: false, lockHolder };
    if (event) this.#onAudit({ at, ...event, requestId: id });
    return { cancelAwaits: Boolean(asked) && !vendorCancel, lockHolder };
  }

  async addEvent(id: string, event: Omit<TimelineEvent, 'at'>): Promise<void> {
    await this.patch(id, {}, event);
  }

  /**
   * True the first time `key` is claimed within `ttlMs`, and again for the same `owner` (a job
   * retried after a crash); false for anyone else. Slack may deliver one slash command more than
   * once (its retries carry the same trigger_id); only the first delivery is handled.
   */
  async claimOnce(key: string, ttlMs: number, owner = '1'): Promise<boolean> {
    const name = `${this.prefix}:once:${key}`;
    if ((await this.redis.set(name, owner, 'PX', ttlMs, 'NX')) === 'OK') return true;
    return (await this.redis.get(name)) === owner;
  }

  /** `/ops cancel` was asked and no worker has acted on it yet. */
  async cancelAwaitsWorker(id: string): Promise<boolean> {
    const [asked, vendorCancel] = await this.redis.hmget(this.key(id), 'cancelRequestedBy', 'vendorCancel');
    return Boolean(asked) && !vendorCancel;
  }

  async pendingEnqueues(): Promise<string[]> {
    return this.redis.smembers(this.toEnqueueKey());
  }

  async enqueued(id: string): Promise<void> {
    await this.redis.srem(this.toEnqueueKey(), id);
  }

  /** Most recent requests in a channel, newest first. */
  async recentInChannel(channel: string, limit: number): Promise<OpsRequest[]> {
    const ids = await this.redis.zrevrange(this.channelIndexKey(channel), 0, limit - 1);
    const requests = await Promise.all(ids.map((id) => this.get(id)));
    return requests.filter((r): r is OpsRequest => r !== undefined);
  }
}

/** An audit stream entry as Redis answers it: its id and its field/value list. */
type StreamEntry = [id: string, fields: string[]];

interface Scripts {
  opsTransition(keyCount: number, ...args: string[]): Promise<string>;
  opsCreate(...args: string[]): Promise<number>;
  opsPatch(keyCount: number, ...args: string[]): Promise<[string | null, string | null, string | null]>;
  opsTimeline(timeline: string, audit: string): Promise<StreamEntry[]>;
  opsRead(record: string, long: string): Promise<[string[], string[]]>;
}

/** Request ids are short enough to type (`op-7k3m9q`), never contain `:` and are never all digits. */
export function newRequestId(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(7);
  let id = 'op-';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}

function pairs(flat: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/**
 * The fields as the scripts write them (WRITE_FIELDS in store-scripts.ts): the number of pairs for
 * the record's hash, those pairs, then the pairs for its long fields.
 */
function scriptFields(fields: Partial<OpsRequest>): string[] {
  const short: string[] = [];
  const long: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    (LONG_FIELDS.has(key) ? long : short).push(
      key,
      JSON_FIELDS.has(key)
        ? JSON.stringify(value)
        : typeof value === 'boolean'
          ? value
            ? '1'
            : '0'
          : String(value),
    );
  }
  return [String(short.length / 2), ...short, ...long];
}

/**
 * An audit stream entry's fields. Always these four in this order: entries whose field names
 * match their stream node's first entry are stored without the names. No time: the entry id is
 * the time Redis recorded it, in ms.
 */
function auditFields(event: Omit<TimelineEvent, 'at'>, requestId: string | undefined): string[] {
  return ['request', requestId ?? '', 'kind', event.kind, 'actor', event.actor ?? '', 'text', event.text];
}

function auditRecord([entryId, fields]: StreamEntry): AuditRecord {
  const { request, kind, actor, text } = Object.fromEntries(pairs(fields));
  return {
    at: Number(entryId.split('-')[0]),
    kind: kind ?? '',
    ...(actor ? { actor } : {}),
    text: text ?? '',
    requestId: request || undefined,
  };
}

/** Decodes a flat field/value list (as HGETALL answers it) into `out`, each field by its type. */
function decodeInto(out: Record<string, unknown>, flat: string[]): void {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const key = flat[i]!;
    const value = flat[i + 1]!;
    if (JSON_FIELDS.has(key)) out[key] = JSON.parse(value);
    else if (NUMBER_FIELDS.has(key)) out[key] = Number(value);
    else if (key === 'highRisk') out[key] = value === '1';
    else out[key] = value;
  }
}

export type { ActionProgress };
