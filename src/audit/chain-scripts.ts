import { NAMED_ARGS } from '../requests/script-args.js';

/**
 * The audit chain's Lua scripts. The chain is a stream of its own (K.chain, `<audit key>:chain`)
 * whose entries have the ids of the audit records they seal and two fields: `n`, the record's
 * number in the chain, and `h`, its hash (32 bytes). Records and seals share their ids, so one
 * range names both, and the seals of records dropped by retention can be trimmed the same way.
 */

/** Lua: whether stream id `a` is older than `b` (milliseconds, then sequence). */
const OLDER = `
local function older(a, b)
  local aMs, aSeq = string.match(a, '^(%d+)%-(%d+)$')
  local bMs, bSeq = string.match(b, '^(%d+)%-(%d+)$')
  if aMs ~= bMs then return tonumber(aMs) < tonumber(bMs) end
  return tonumber(aSeq) < tonumber(bSeq)
end
`;

/** Seals of dropped records pruned per append (more wait for the next one). */
const PRUNE_BATCH = 100;

/**
 * Appends a batch of seals, if the chain still ends where the sealer read it (`A.head`, the last
 * seal's id; absent for an empty chain): 1, or 0 when another sealer got there first (nothing is
 * written, so two sealers can never fork the chain). The records `A.ids` get the numbers from
 * `A.seq` on, and their hashes, 32 bytes each, one after the other in ARGV[2] (binary, so not in
 * the JSON; one argument, not one per hash, which costs the caller's client more per record).
 * Then drops the seals of records that retention has dropped, except the last of them: it is the
 * anchor the oldest kept record chains from. Only seals older than `A.minId` (now minus the
 * retention period) go: a seal whose record vanished before that is evidence of a deletion.
 * They are found from the chain's start with XRANGE: an XREVRANGE from an id older than a stream's
 * last entries walks every entry after it.
 * KEYS: audit, chain.
 */
export const APPEND_SEALS = `${NAMED_ARGS}${OLDER}
local last = redis.call('XREVRANGE', K.chain, '+', '-', 'COUNT', 1)[1]
if (last and last[1] or '') ~= (A.head or '') then return 0 end
for i, id in ipairs(A.ids) do
  redis.call('XADD', K.chain, id, 'n', A.seq + i - 1, 'h', string.sub(ARGV[2], 32 * i - 31, 32 * i))
end
local bound = A.minId
local oldest = redis.call('XRANGE', K.audit, '-', '+', 'COUNT', 1)[1]
if oldest and older(oldest[1], bound) then bound = oldest[1] end
local dropped = redis.call('XRANGE', K.chain, '-', '(' .. bound, 'COUNT', ${PRUNE_BATCH})
if #dropped > 1 then redis.call('XTRIM', K.chain, 'MINID', dropped[#dropped][1]) end
return 1
`;

/**
 * How many audit records are not sealed yet: the records kept, less the seals of records kept
 * (the chain also keeps the anchor, and seals of records trimmed since the sealer last wrote).
 * O(1) but for those few; exact unless records were deleted by hand. KEYS: audit, chain.
 */
export const COUNT_UNSEALED = `
local kept = redis.call('XLEN', KEYS[1])
if kept == 0 then return 0 end
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1][1]
local before = #redis.call('XRANGE', KEYS[2], '-', '(' .. oldest, 'COUNT', 1000)
return math.max(0, kept - (redis.call('XLEN', KEYS[2]) - before))
`;
