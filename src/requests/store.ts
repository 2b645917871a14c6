import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { OutboxBatch } from '../slack/outbox.js';
import type { ActionProgress } from '../vendors/types.js';
import { ResourceLocks } from './resource-lock.js';
import { namedArgs } from './script-args.js';
import { CREATE, PATCH, READ, TIMELINE, TRANSITION, VOTE } from './store-scripts.js';
import {
  FINAL_STATES,
  type OpsRequest,
  type RecordedVote,
  type RequestState,
  type RunPhase,
  type TimelineEvent,
} from './types.js';

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
const LONG_FIELDS = new Set([
  'args',
  'summary',
  'progress',
  'outcome',
  'responseUrl',
  'reason',
  'quorum',
  'followUp',
  'decisionReason',
  'blocked',
  'retrying',
  'overrides',
]);

const JSON_FIELDS = new Set(['args', 'summary', 'progress', 'quorum', 'followUp', 'overrides']);

/**
 * How long after a pending request's expiry the reconciler looks at it, should its expiry job
 * have been lost (the expiry job itself fires on time).
 */
const OPEN_CHECK_GRACE_MS = 60_000;
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
  'fence',
  'runAt',
]);

/** What else a patch does in the same step (see RequestStore.patch). */
export interface PatchAlso {
  /** Slack messages to queue in the request's outbox (Outbox.batch). */
  outbox?: OutboxBatch | undefined;
  /**
   * A resource lock the request holds: renew its lease, or take it back if it lapsed and is free.
   * `required`: the write is made only if the lock is (or becomes) this request's. `owner` (the
   * requester) passes a sticky lock of theirs on `key` or on the whole target (`wholeKey`).
   */
  lease?: { key: string; ms: number; required?: boolean; owner?: string; wholeKey?: string } | undefined;
  /** Events for the audit trail only (routine vendor reads), recorded before `event`. */
  audit?: Array<Omit<TimelineEvent, 'at'>> | undefined;
  /**
   * A run step's write: the request's fencing token as the step read it, and optionally the phase
   * it must still be in. The write is made only if no other step wrote since; it then moves the
   * token on (see PATCH in store-scripts.ts).
   */
  fence?: { token: number; phase?: RunPhase } | undefined;
}

export interface PatchResult {
  /**
   * `ok`: written. `locked`: a required lease is another request's. `fenced`: another run step
   * wrote since this one read the record (or the phase moved on). `missing`: no such request.
   * Only `ok` wrote anything but the audit-only events.
   */
  status: 'ok' | 'locked' | 'fenced' | 'missing';
  /** `/ops cancel` was asked and no worker has acted on it yet. */
  cancelAwaits: boolean;
  /** With a lease: the request holding the lock after the write (another's when `locked`). */
  lockHolder?: string | undefined;
}

/** A vote's answer (see VOTE in store-scripts.ts). */
export type VoteResult = 'approved' | 'counted' | 'voted' | 'changed' | 'decided' | 'late' | 'missing';

/**
 * A transition's answer: made, or why not (the state the request is in, missing, too late, or
 * fenced: another run step wrote since the caller read it).
 */
export type TransitionResult =
  | { ok: true }
  | { ok: false; state: RequestState | 'missing' | 'late' | 'fenced' };

export type NewRequest = Omit<
  OpsRequest,
  'id' | 'state' | 'version' | 'phase' | 'reported' | 'faults' | 'fence' | 'correlationId' | 'votes'
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
    // Named keys and arguments (script-args.ts): the caller says how many keys.
    redis.defineCommand('opsTransition', { lua: TRANSITION });
    redis.defineCommand('opsCreate', { lua: CREATE });
    redis.defineCommand('opsPatch', { lua: PATCH });
    redis.defineCommand('opsTimeline', { numberOfKeys: 2, lua: TIMELINE });
    redis.defineCommand('opsRead', { numberOfKeys: 3, lua: READ });
    redis.defineCommand('opsVote', { lua: VOTE });
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
  /** The keys every script on one request names: its record, long fields and timeline. */
  private recordKeys(id: string): { record: string; long: string; timeline: string } {
    return { record: this.key(id), long: this.longKey(id), timeline: this.timelineKey(id) };
  }
  /** The request's approvals: voter → their vote (JSON), see RequestStore.vote. */
  votesKey(id: string): string {
    return `${this.prefix}:req:${id}:votes`;
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
   * Every request not in a final state, scored by when the reconciler should next look at it
   * (jobs/reconcile.ts): a request whose job was lost, failed or left it short of an end is found
   * there, however its worker died.
   */
  openKey(): string {
    return `${this.prefix}:open`;
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
        fence: 0,
        votes: [],
        correlationId: randomBytes(8).toString('hex'),
      };
      const event: TimelineEvent = {
        at: request.createdAt,
        kind: 'requested',
        actor: request.requester,
        text: request.reason ? `requested: ${request.reason}` : 'requested',
      };
      const created = await (this.redis as unknown as Scripts).opsCreate(
        ...namedArgs(
          {
            ...this.recordKeys(request.id),
            channel: this.channelIndexKey(request.channel),
            all: this.allIndexKey(),
            audit: this.auditKey(),
            open: this.openKey(),
          },
          {
            id: request.id,
            createdAt: request.createdAt,
            minId: this.auditMinId(),
            retentionMs: this.retentionMs,
            // The expiry job ends it on time; the reconciler looks only if that job was lost.
            openAt: request.expiresAt + OPEN_CHECK_GRACE_MS,
            event: auditFields(event, request.id),
            ...scriptFields(request),
          },
        ),
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
    const [record, long, votes] = await (this.redis as unknown as Scripts).opsRead(
      this.key(id),
      this.longKey(id),
      this.votesKey(id),
    );
    return this.fromFields(record, long, votes);
  }

  /**
   * A request from the flat field/value lists a script answers for HGETALL of `key(id)`, LRANGE
   * of `longKey(id)` and, where it needs them, HGETALL of `votesKey(id)`; undefined if there is no
   * record.
   */
  fromFields(record: string[], long: string[], votes: string[] = []): OpsRequest | undefined {
    // One pass over both flat lists, straight into the request: this runs for every step and
    // every message delivered, so no intermediate pairs or objects.
    const out: Record<string, unknown> = {};
    decodeInto(out, record);
    decodeInto(out, long);
    if (!out.id) return undefined;
    // Records written before the fencing token existed hold none: it starts at 0 (as in Lua).
    out.fence ??= 0;
    // A read that does not ask for the votes (a reply's delivery) has none.
    out.votes = decodeVotes(votes);
    return out as unknown as OpsRequest;
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
   * `releaseLock` frees a
   * lock the request holds, whatever the answer. `fence`: a run step's fencing token (see patch).
   * A run's last step also records its routine vendor reads (`audit`, recorded whatever the
   * answer), its own events before the transition's (`events`), and queues its closing messages
   * (`outbox`, only if the state changes): its whole end is one write. A final state takes the
   * request out of the open-requests index; `openAt` (re)schedules the reconciler's next look.
   */
  async transition(
    id: string,
    from: RequestState[],
    to: RequestState,
    event: Omit<TimelineEvent, 'at'>,
    fields: Partial<OpsRequest> = {},
    options: {
      notAfterExpiry?: boolean;
      now?: number;
      releaseLock?: string | undefined;
      audit?: Array<Omit<TimelineEvent, 'at'>> | undefined;
      events?: Array<Omit<TimelineEvent, 'at'>> | undefined;
      outbox?: OutboxBatch | undefined;
      fence?: number | undefined;
      openAt?: number | undefined;
    } = {},
  ): Promise<TransitionResult> {
    const now = options.now ?? Date.now();
    const { audit = [], outbox } = options;
    const events = [...(options.events ?? []), event];
    const closed = FINAL_STATES.has(to);
    const status = await (this.redis as unknown as Scripts).opsTransition(
      ...namedArgs(
        {
          ...this.recordKeys(id),
          votes: this.votesKey(id),
          audit: this.auditKey(),
          open: this.openKey(),
          outbox: outbox?.listKey,
          seen: outbox?.seenKey,
          lock: options.releaseLock,
          runLock: options.releaseLock ? ResourceLocks.runKey(options.releaseLock) : undefined,
        },
        {
          id,
          from,
          to,
          notAfter: options.notAfterExpiry || undefined,
          now,
          fence: options.fence === undefined ? undefined : String(options.fence),
          minId: this.auditMinId(now),
          lockHolder: options.releaseLock ? id : undefined,
          reads: audit.map((entry) => auditFields(entry, id)),
          events: events.map((entry) => auditFields(entry, id)),
          items: outbox?.items ?? [],
          openAt: closed ? undefined : options.openAt,
          closed: closed || undefined,
          // Finished requests are kept for the retention period, then Redis drops them.
          keepSeconds: closed ? Math.ceil(this.retentionMs / 1000) : undefined,
          ...scriptFields(fields),
        },
      ),
    );
    for (const entry of audit) this.#onAudit({ at: now, ...entry, requestId: id });
    if (status !== 'ok') return { ok: false, state: status as RequestState | 'missing' | 'late' | 'fenced' };
    for (const entry of events) this.#onAudit({ at: now, ...entry, requestId: id });
    return { ok: true };
  }

  /**
   * Writes run fields that do not change the state (progress, counters) and, if given, an event
   * (to the audit trail and the request's timeline), together. A run step also records its
   * routine vendor reads (`also.audit`), queues its Slack messages (`also.outbox`) and renews its
   * resource lock (`also.lease`) in the same step, and learns from the answer whether a cancel
   * awaits it. A run step's writes are fenced (`also.fence`): of two workers that both think they
   * own a step (one lost its job's lock in a long pause), only one can write.
   */
  async patch(
    id: string,
    fields: Partial<OpsRequest>,
    event?: Omit<TimelineEvent, 'at'>,
    also: PatchAlso = {},
  ): Promise<PatchResult> {
    const at = Date.now();
    const { outbox, lease, audit = [], fence } = also;
    const [status, asked, vendorCancel, holder] = await (this.redis as unknown as Scripts).opsPatch(
      ...namedArgs(
        {
          ...this.recordKeys(id),
          audit: this.auditKey(),
          outbox: outbox?.listKey,
          seen: outbox?.seenKey,
          lock: lease?.key,
          wholeLock: lease?.wholeKey,
          runLock: lease ? ResourceLocks.runKey(lease.key) : undefined,
        },
        {
          minId: this.auditMinId(at),
          event: event ? auditFields(event, id) : undefined,
          reads: audit.map((entry) => auditFields(entry, id)),
          items: outbox?.items ?? [],
          lease: lease
            ? {
                ms: Math.ceil(lease.ms),
                holder: id,
                required: lease.required || undefined,
                owner: lease.owner,
              }
            : undefined,
          fence: fence ? String(fence.token) : undefined,
          phase: fence?.phase,
          ...scriptFields(fields),
        },
      ),
    );
    for (const entry of audit) this.#onAudit({ at, ...entry, requestId: id });
    const lockHolder = holder || undefined;
    if (status !== 'ok') return { status, cancelAwaits: false, lockHolder };
    if (event) this.#onAudit({ at, ...event, requestId: id });
    return { status, cancelAwaits: Boolean(asked) && !vendorCancel, lockHolder };
  }

  /**
   * Records `vote` on a pending request, having seen `expect` votes before it, with `outcome.fields`;
   * when `outcome.met` (the caller's tally says this vote meets the quorum) the request is
   * approved in the same step, its run marked to be queued. See VOTE in store-scripts.ts for the
   * answers.
   */
  async vote(
    id: string,
    vote: RecordedVote,
    expect: number,
    outcome: { met: boolean; fields: Partial<OpsRequest>; openAt?: number | undefined },
    now = Date.now(),
  ): Promise<VoteResult> {
    const approve = outcome.met;
    const event = {
      kind: approve ? 'approved' : 'vote',
      actor: vote.user,
      text: approve ? 'approved' : 'approved (counted toward the quorum)',
    };
    const result = await (this.redis as unknown as Scripts).opsVote(
      ...namedArgs(
        {
          ...this.recordKeys(id),
          votes: this.votesKey(id),
          enqueue: this.toEnqueueKey(),
          audit: this.auditKey(),
          open: this.openKey(),
        },
        {
          id,
          user: vote.user,
          vote: JSON.stringify({ eligible: vote.eligible, at: vote.at }),
          expect,
          met: approve || undefined,
          now,
          minId: this.auditMinId(now),
          event: auditFields(event, id),
          openAt: outcome.openAt,
          ...scriptFields(outcome.fields),
        },
      ),
    );
    if (result === 'approved' || result === 'counted') this.#onAudit({ at: now, ...event, requestId: id });
    return result;
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

  /** Open requests the reconciler should look at by `now`, the most overdue first. */
  async dueOpen(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.openKey(), '-inf', now, 'LIMIT', 0, limit);
  }

  /** When the reconciler should next look at an open request (it only ever moves it later). */
  async nextCheck(id: string, at: number): Promise<void> {
    await this.redis.zadd(this.openKey(), 'XX', at, id);
  }

  /** Takes an id out of the open-requests index (its record is final or gone). */
  async closed(id: string): Promise<void> {
    await this.redis.zrem(this.openKey(), id);
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
  opsCreate(keyCount: number, ...args: string[]): Promise<number>;
  opsPatch(keyCount: number, ...args: string[]): Promise<[PatchResult['status'], string, string, string]>;
  opsTimeline(timeline: string, audit: string): Promise<StreamEntry[]>;
  opsRead(record: string, long: string, votes: string): Promise<[string[], string[], string[]]>;
  opsVote(keyCount: number, ...args: string[]): Promise<VoteResult>;
}

/** Request ids are short enough to type (`op-7k3m9q`), never contain `:` and are never all digits. */
export const REQUEST_ID = /^op-[a-z0-9]{6,12}$/;

export function isRequestId(value: string): boolean {
  return REQUEST_ID.test(value);
}

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
 * The fields as the scripts write them (`short` to the record's hash, `long` to its long fields;
 * see WRITE_FIELDS in store-scripts.ts), each value as Redis will hold it.
 */
function scriptFields(fields: Partial<OpsRequest>): {
  short: Record<string, string>;
  long: Record<string, string>;
} {
  const short: Record<string, string> = {};
  const long: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) {
    // Votes live in a hash of their own, written only by the vote script.
    if (value === undefined || key === 'votes') continue;
    (LONG_FIELDS.has(key) ? long : short)[key] = JSON_FIELDS.has(key)
      ? JSON.stringify(value)
      : typeof value === 'boolean'
        ? value
          ? '1'
          : '0'
        : String(value);
  }
  return { short, long };
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

/** The votes hash (voter, JSON, voter, JSON…) as votes in the order they came. */
function decodeVotes(flat: string[]): RecordedVote[] {
  const votes: RecordedVote[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const { eligible, at } = JSON.parse(flat[i + 1]!) as { eligible: number[]; at: number };
    votes.push({ user: flat[i]!, eligible, at });
  }
  return votes.sort((a, b) => a.at - b.at);
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
