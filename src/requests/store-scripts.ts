import { QUEUE_ITEMS } from '../slack/outbox.js';
import { TAKE_LEASE } from './resource-lock.js';
import { NAMED_ARGS } from './script-args.js';

/**
 * The request store's Lua scripts. Each one is a single atomic step on one request's keys (all
 * under the same hash-tagged prefix, so one Cluster slot). Keys and arguments are named (see
 * script-args.ts); what each script reads is listed above it. Common arguments:
 * - `short` / `long`: field → value objects, written to the record's hash and to its long fields
 *   (see `scriptFields` in store.ts);
 * - an audit entry is a list of 8 strings (`auditFields` in store.ts); `reads` is a list of them
 *   for the audit stream only (a run step's routine vendor reads), `event`/`events` also go in
 *   the request's timeline;
 * - `minId`: audit entries older than this (now minus the retention period) are trimmed;
 * - `items`: outbox {key, item} pairs, queued with the write (keys `outbox` and `seen`).
 */

/**
 * Writes `short` to the record (K.record, a hash) and `long` to its long fields (K.long, a list of
 * name, value, name, value…: unlike a hash, a small list stays one compact listpack however long
 * its values are).
 */
const WRITE_FIELDS = `
local function writeFields(short, long)
  for name, value in pairs(short) do redis.call('HSET', K.record, name, value) end
  if next(long) == nil then return end
  local names = {}
  local stored = redis.call('LRANGE', K.long, 0, -1)
  for j = 1, #stored, 2 do names[stored[j]] = j end
  for name, value in pairs(long) do
    if names[name] then
      redis.call('LSET', K.long, names[name], value)
    else
      names[name] = redis.call('RPUSH', K.long, name, value) - 1
    end
  end
end
`;

/**
 * Appends an entry to the audit stream, trimming entries older than `A.minId`; `recordEvent` also
 * appends the new entry's id to the request's timeline.
 */
const RECORD = `
local function recordRead(entry)
  return redis.call('XADD', K.audit, 'MINID', '~', A.minId, '*', unpack(entry))
end
local function recordEvent(entry)
  redis.call('RPUSH', K.timeline, recordRead(entry))
end
`;

/**
 * Creates a request unless the id is taken, and indexes it by channel and overall, and in the
 * open-requests index (K.open, scored by when the reconciler should look at it: `A.openAt`). Index
 * entries older than the retention period name records Redis has dropped by then: each create
 * trims them, and an index nothing is added to any more expires with its last request.
 * KEYS: record, long, timeline, channel, all, audit, open.
 * ARGV: id, createdAt, minId, retentionMs, openAt, event, short, long.
 */
export const CREATE = `${NAMED_ARGS}${WRITE_FIELDS}${RECORD}
if redis.call('EXISTS', K.record) == 1 then return 0 end
writeFields(A.short, A.long)
recordEvent(A.event)
for _, index in ipairs({K.channel, K.all}) do
  redis.call('ZADD', index, A.createdAt, A.id)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. A.minId)
  redis.call('PEXPIRE', index, A.retentionMs)
end
redis.call('ZADD', K.open, A.openAt, A.id)
return 1
`;

/**
 * Compare-and-set on `state`: 'ok', or why not (the current state, 'missing', 'late' or
 * 'fenced'). Whatever the answer, a lock to release (a run ending: K.lock held by
 * `A.lockHolder`) is released if this request still holds it, and `reads` are recorded (they
 * happened either way). Only with 'ok' are the events, the fields and the outbox items written,
 * the state set and the version bumped.
 * - `from`: the states it may move from; `to`: the new state;
 * - `notAfter`: refuse ('late') once `now` is past the record's `expiresAt` (a late click);
 * - `fence`: the run step's fencing token as the step read it (see PATCH); refused ('fenced') if
 *   another step has written since;
 * - `openAt`: (re)schedule the request in the open-requests index (K.open); `closed`: remove it
 *   (a final state), and keep the record `keepSeconds` from now on.
 * KEYS: record, long, timeline, votes, audit, open, [outbox, seen], [lock, runLock].
 */
export const TRANSITION = `${NAMED_ARGS}${WRITE_FIELDS}${RECORD}${QUEUE_ITEMS}
if A.lockHolder then
  for _, lock in ipairs({K.lock, K.runLock}) do
    if redis.call('GET', lock) == A.lockHolder then redis.call('DEL', lock) end
  end
end
for _, entry in ipairs(A.reads) do recordRead(entry) end
local current = redis.call('HGET', K.record, 'state')
if not current then return 'missing' end
local allowed = false
for _, state in ipairs(A.from) do if state == current then allowed = true end end
if not allowed then return current end
if A.notAfter and A.now >= tonumber(redis.call('HGET', K.record, 'expiresAt')) then return 'late' end
if A.fence and (redis.call('HGET', K.record, 'fence') or '0') ~= A.fence then return 'fenced' end
redis.call('HSET', K.record, 'state', A.to)
redis.call('HINCRBY', K.record, 'version', 1)
if A.fence then redis.call('HINCRBY', K.record, 'fence', 1) end
for _, entry in ipairs(A.events) do recordEvent(entry) end
if #A.items > 0 then queueItems(K.outbox, K.seen, A.items) end
writeFields(A.short, A.long)
if A.openAt then redis.call('ZADD', K.open, A.openAt, A.id) end
if A.closed then
  redis.call('ZREM', K.open, A.id)
  for _, key in ipairs({K.record, K.long, K.timeline, K.votes}) do redis.call('EXPIRE', key, A.keepSeconds) end
end
return 'ok'
`;

/** A request's record, long fields and votes. KEYS: record, long fields, votes. */
export const READ = `
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1), redis.call('HGETALL', KEYS[3])}
`;

/**
 * One approval of a pending request, counted at most once per person however many clicks, web
 * processes and Slack retries race: answers 'approved' (this vote met the quorum: the request is
 * approved in the same step, as TRANSITION does it), 'counted' (recorded; more are needed),
 * 'voted' (this person's vote is already in), 'changed' (another vote came in since the caller
 * tallied `expect` votes: tally again), 'decided' (it is no longer pending), 'late' or 'missing'.
 * - `user`, `vote`: the voter and their vote (JSON: eligible rules, time);
 * - `short`/`long`: fields written with the vote;
 * - `met`: the caller's tally says this vote meets the quorum; `openAt`: when the reconciler first
 *   looks at the approved request.
 * KEYS: record, long, timeline, votes, enqueue, audit, open.
 */
export const VOTE = `${NAMED_ARGS}${WRITE_FIELDS}${RECORD}
local state = redis.call('HGET', K.record, 'state')
if not state then return 'missing' end
if state ~= 'pending' then return 'decided' end
if A.now >= tonumber(redis.call('HGET', K.record, 'expiresAt')) then return 'late' end
if redis.call('HEXISTS', K.votes, A.user) == 1 then return 'voted' end
if redis.call('HLEN', K.votes) ~= A.expect then return 'changed' end
redis.call('HSET', K.votes, A.user, A.vote)
recordEvent(A.event)
redis.call('HINCRBY', K.record, 'version', 1)
writeFields(A.short, A.long)
if not A.met then return 'counted' end
redis.call('HSET', K.record, 'state', 'approved')
redis.call('SADD', K.enqueue, A.id)
redis.call('ZADD', K.open, A.openAt, A.id)
return 'approved'
`;

/**
 * Writes fields without a state change, and `event` if given; in the same step records `reads`,
 * queues outbox `items` and renews (or takes) the resource lock K.lock for the request
 * (`lease`: { holder, ms, required, owner }; K.wholeLock, the target's whole-target lock, and
 * `owner`, the requester, for sticky locks: see TAKE_LEASE). Answers {status, cancelRequestedBy, vendorCancel, lock
 * holder}, '' for what is not set, so a run step learns of a cancel without another read:
 * - 'ok': written;
 * - 'missing': there is no such request (any more);
 * - 'locked': a required lease is another request's: only `reads` were recorded;
 * - 'fenced': `fence` (the run step's fencing token as it read the record) is stale: another step
 *   wrote since (this worker lost its job to another); or the run is no longer `running` (it
 *   ended), or `phase` is not the record's phase; only `reads` were recorded. Every fenced
 *   write moves the token on, so of two workers that read the same record, only the first to
 *   write can act on it (a submission is sent at most once).
 * KEYS: record, long, timeline, audit, [outbox, seen], [lock, wholeLock, runLock].
 */
export const PATCH = `${NAMED_ARGS}${WRITE_FIELDS}${RECORD}${QUEUE_ITEMS}${TAKE_LEASE}
for _, entry in ipairs(A.reads) do recordRead(entry) end
local phase = redis.call('HGET', K.record, 'phase')
if not phase then return {'missing', '', '', ''} end
if A.fence then
  local stale = (redis.call('HGET', K.record, 'fence') or '0') ~= A.fence
  if stale or redis.call('HGET', K.record, 'state') ~= 'running' or (A.phase and A.phase ~= phase) then
    return {'fenced', '', '', ''}
  end
end
local holder = ''
if A.lease then
  holder = takeLease(K.lock, A.lease.holder, A.lease.ms, A.lease.owner, K.wholeLock, K.runLock)
  if holder ~= A.lease.holder and A.lease.required then return {'locked', '', '', holder} end
end
if A.event then recordEvent(A.event) end
if #A.items > 0 then queueItems(K.outbox, K.seen, A.items) end
writeFields(A.short, A.long)
if A.fence then redis.call('HINCRBY', K.record, 'fence', 1) end
local cancel = redis.call('HMGET', K.record, 'cancelRequestedBy', 'vendorCancel')
return {'ok', cancel[1] or '', cancel[2] or '', holder}
`;

/**
 * A request's timeline: the audit entries its ids point at, oldest first. Entries the stream has
 * already trimmed (older than the retention period) are left out.
 * KEYS: timeline, audit stream.
 */
export const TIMELINE = `
local events = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local found = redis.call('XRANGE', KEYS[2], id, id)
  if found[1] then events[#events + 1] = found[1] end
end
return events
`;
