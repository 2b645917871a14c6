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

/**
 * Appends a batch of seals, if the chain still ends where the sealer read it (`A.head`, the last
 * seal's id; absent for an empty chain): 1, or 0 when another sealer got there first (nothing is
 * written, so two sealers can never fork the chain). Each seal is [id, seq, hash as hex].
 * Then drops the seals of records that retention has dropped, except the last of them: it is the
 * anchor the oldest retained record chains from. Only seals older than `A.minId` (now minus the
 * retention period) go: a seal whose record vanished before that is evidence of a deletion.
 * KEYS: audit, chain.
 */
export const APPEND_SEALS = `${NAMED_ARGS}${OLDER}
local last = redis.call('XREVRANGE', K.chain, '+', '-', 'COUNT', 1)[1]
if (last and last[1] or '') ~= (A.head or '') then return 0 end
for _, seal in ipairs(A.seals) do
  local hash = string.gsub(seal[3], '..', function(pair) return string.char(tonumber(pair, 16)) end)
  redis.call('XADD', K.chain, seal[1], 'n', seal[2], 'h', hash)
end
local bound = A.minId
local oldest = redis.call('XRANGE', K.audit, '-', '+', 'COUNT', 1)[1]
if oldest and older(oldest[1], bound) then bound = oldest[1] end
local anchor = redis.call('XREVRANGE', K.chain, '(' .. bound, '-', 'COUNT', 1)[1]
if anchor then redis.call('XTRIM', K.chain, 'MINID', anchor[1]) end
return 1
`;

/**
 * One page of the chain for checking it: up to `A.count` seals after `A.after` (from the start
 * when absent), and every audit record in the same range of ids, read together so that records
 * and seals agree. Answers {seals, records}, each as XRANGE answers it. KEYS: audit, chain.
 */
export const READ_PAGE = `${NAMED_ARGS}
local from = A.after and ('(' .. A.after) or '-'
local seals = redis.call('XRANGE', K.chain, from, '+', 'COUNT', A.count)
if #seals == 0 then return {seals, {}} end
return {seals, redis.call('XRANGE', K.audit, from, seals[#seals][1])}
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
