import { QUEUE_ITEMS } from '../slack/outbox.js';
import { TAKE_LEASE } from './resource-lock.js';

/**
 * The request store's Lua scripts. Each one is a single atomic step on one request's keys (all
 * under the same hash-tagged prefix, so one Cluster slot). Field lists come from `scriptFields`
 * and audit entries from `auditFields` in store.ts.
 */

/**
 * Writes the field/value pairs that follow ARGV[first]: the first ARGV[first] pairs to the record
 * (KEYS[1], a hash), the rest to its long fields (KEYS[2], a list of name, value, name, value…:
 * unlike a hash, a small list stays one compact listpack however long its values are).
 */
const WRITE_FIELDS = `
local function writeFields(first)
  local long = first + 1 + 2 * tonumber(ARGV[first])
  for i = first + 1, long - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  if long > #ARGV then return end
  local names = {}
  local stored = redis.call('LRANGE', KEYS[2], 0, -1)
  for j = 1, #stored, 2 do names[stored[j]] = j end
  for i = long, #ARGV, 2 do
    if names[ARGV[i]] then
      redis.call('LSET', KEYS[2], names[ARGV[i]], ARGV[i + 1])
    else
      names[ARGV[i]] = redis.call('RPUSH', KEYS[2], ARGV[i], ARGV[i + 1]) - 1
    end
  end
end
`;

/**
 * Appends an event to the audit stream (its 8 field/value strings from ARGV[first] on), trimming
 * entries older than `minId`, and the new entry's id to the request's timeline.
 */
const RECORD_EVENT = `
local function recordEvent(stream, timeline, minId, first)
  local id = redis.call('XADD', stream, 'MINID', '~', minId, '*', unpack(ARGV, first, first + 7))
  redis.call('RPUSH', timeline, id)
end
`;

/**
 * Appends to the audit stream the audit-only events (a run step's routine vendor reads) counted at
 * ARGV[at], 8 strings each after it, trimming entries older than `minId`; answers the index of
 * the first ARGV after them.
 */
const RECORD_READS = `
local function recordReads(stream, minId, at)
  local i = at + 1
  for _ = 1, tonumber(ARGV[at]) do
    redis.call('XADD', stream, 'MINID', '~', minId, '*', unpack(ARGV, i, i + 7))
    i = i + 8
  end
  return i
end
`;

/**
 * Creates a request unless the id is taken, and indexes it by channel and overall. Index entries
 * older than the retention period name records Redis has dropped by then: each create trims them,
 * and an index nothing is added to any more expires with its last request.
 * KEYS: record, long fields, timeline, channel index, all index, audit stream.
 * ARGV: request id, created at, audit min id (now minus the retention period), the retention period
 * in ms, the audit entry (8), then the fields.
 */
export const CREATE = `${WRITE_FIELDS}${RECORD_EVENT}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
writeFields(13)
recordEvent(KEYS[6], KEYS[3], ARGV[3], 5)
for i = 4, 5 do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
return 1
`;

/**
 * Compare-and-set on `state`: 'ok', or why not (the current state, 'missing' or 'late'). Whatever
 * the answer, a lock to release (a run ending) is released if this request still holds it, and the
 * audit-only events (the step's routine vendor reads: they happened either way) are recorded. Only
 * with 'ok' are the timeline events, the fields and the outbox items (a run's closing messages)
 * written.
 * KEYS: record, long fields, timeline, enqueue marker set, audit stream; then, when items are
 * queued, the outbox list and its seen keys; then the lock, if any (always last).
 * ARGV: allowed states (comma list), new state, notAfter ('1' or ''), now, marker member (or ''),
 * audit min id, seconds to keep the request from now on (or '': a final state sets it), the lock's
 * holder (or ''); the number of audit-only events and theirs (8 each); the
 * number of timeline events and theirs (8 each, the transition's own last); the number of outbox
 * items and their key/item pairs; then the fields.
 */
export const TRANSITION = `${WRITE_FIELDS}${RECORD_EVENT}${RECORD_READS}${QUEUE_ITEMS}
if ARGV[8] ~= '' and redis.call('GET', KEYS[#KEYS]) == ARGV[8] then redis.call('DEL', KEYS[#KEYS]) end
local i = recordReads(KEYS[5], ARGV[6], 9)
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return 'missing' end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do if s == current then allowed = true end end
if not allowed then return current end
if ARGV[3] ~= '' and tonumber(ARGV[4]) >= tonumber(redis.call('HGET', KEYS[1], 'expiresAt')) then
  return 'late'
end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'version', 1)
local events = tonumber(ARGV[i])
i = i + 1
for _ = 1, events do
  recordEvent(KEYS[5], KEYS[3], ARGV[6], i)
  i = i + 8
end
local items = tonumber(ARGV[i])
if items > 0 then queueItems(KEYS[6], KEYS[7], i + 1, items) end
writeFields(i + 1 + 2 * items)
if ARGV[5] ~= '' then redis.call('SADD', KEYS[4], ARGV[5]) end
if ARGV[7] ~= '' then
  for k = 1, 3 do redis.call('EXPIRE', KEYS[k], ARGV[7]) end
end
return 'ok'
`;

/** A request's record and long fields. KEYS: record, long fields. */
export const READ = `
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
`;

/**
 * Writes fields without a state change, and an event if one is given; optionally, in the same
 * step, records audit-only events (routine vendor reads), queues outbox items and renews a
 * resource lock the request holds, or takes it. A lease marked required must be this request's
 * (a submission takes the lock with the write that records it): if another request holds it,
 * only the audit-only events are recorded. Answers the record's `cancelRequestedBy` and
 * `vendorCancel`, so a run step learns of a cancel without another read, and the lock's holder.
 * KEYS: record, long fields, timeline, audit stream; then, when items are queued, the outbox list
 * and its seen keys; then, when a lease is renewed, the lock (the outbox keys come before it).
 * ARGV: audit min id; the timeline event (8), or '' for none; the number of audit-only events and
 * theirs (8 each); the number of outbox items and their key/item pairs; the lease in ms, its
 * holder and '1' if it is required, or '', '' and ''; then the fields.
 */
export const PATCH = `${WRITE_FIELDS}${RECORD_EVENT}${RECORD_READS}${QUEUE_ITEMS}${TAKE_LEASE}
local i = recordReads(KEYS[4], ARGV[1], ARGV[2] == '' and 3 or 10)
local items = tonumber(ARGV[i])
local lease = i + 1 + 2 * items
local holder = false
if ARGV[lease] ~= '' then
  holder = takeLease(KEYS[#KEYS], ARGV[lease + 1], ARGV[lease])
  if holder ~= ARGV[lease + 1] and ARGV[lease + 2] == '1' then return {false, false, holder} end
end
if ARGV[2] ~= '' then recordEvent(KEYS[4], KEYS[3], ARGV[1], 2) end
if items > 0 then queueItems(KEYS[5], KEYS[6], i + 1, items) end
writeFields(lease + 3)
local cancel = redis.call('HMGET', KEYS[1], 'cancelRequestedBy', 'vendorCancel')
return {cancel[1], cancel[2], holder}
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
