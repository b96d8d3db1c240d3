-- commitStep: write a run's new record, its history entries and the outbox of jobs the step implies,
-- all or nothing, guarded by the run's sequence number.
-- KEYS[1] run hash          (fields: seq, doc, hseq, ts:<taskId>, ik:<idempotency key>)
-- KEYS[2] history stream    (entry ids "<hseq>-0", field e = entry JSON without seq)
-- KEYS[3] outbox hash       (field = outbox entry id, value = entry JSON)
-- KEYS[4] idempotency key   (string; only read/written when ARGV[4] ~= '')
-- ARGV[1] expected seq, or 'new' when the run must not exist yet
-- ARGV[2] new seq
-- ARGV[3] new doc JSON
-- ARGV[4] idempotency value to store ('' = no idempotency key)
-- ARGV[5] idempotency TTL in seconds
-- ARGV[6] n = number of history entries, then ARGV[7 .. 6+n] the entries
-- then m = number of outbox entries, then m pairs (id, JSON)
-- then k = number of task ids whose live status fields to drop, then the k ids
-- then j = number of tasks newly awaited, then j pairs (task id, live status JSON)
-- Replies: {1, firstSeq, lastSeq}   committed
--          {-1, currentSeq}         the run moved on (or does not exist): re-read and retry
--          {-2}                     'new' but the run exists already
--          {-3, storedValue}        the idempotency key was used already
if ARGV[4] ~= '' then
  local prior = redis.call('GET', KEYS[4])
  if prior then return {-3, prior} end
end
local cur = redis.call('HGET', KEYS[1], 'seq')
if ARGV[1] == 'new' then
  if cur then return {-2} end
elseif cur ~= ARGV[1] then
  return {-1, cur or ''}
end
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'doc', ARGV[3])
local n = tonumber(ARGV[6])
local first = 0
local last = 0
for i = 1, n do
  local s = redis.call('HINCRBY', KEYS[1], 'hseq', 1)
  if i == 1 then first = s end
  last = s
  redis.call('XADD', KEYS[2], s .. '-0', 'e', ARGV[6 + i])
end
local at = 7 + n
local m = tonumber(ARGV[at])
for i = 1, m do
  redis.call('HSET', KEYS[3], ARGV[at + 2 * i - 1], ARGV[at + 2 * i])
end
at = at + 2 * m + 1
local k = tonumber(ARGV[at])
for i = 1, k do
  redis.call('HDEL', KEYS[1], 'ts:' .. ARGV[at + i])
end
at = at + k + 1
local j = tonumber(ARGV[at])
for i = 1, j do
  redis.call('HSET', KEYS[1], 'ts:' .. ARGV[at + 2 * i - 1], ARGV[at + 2 * i])
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[4], ARGV[4], 'EX', tonumber(ARGV[5]))
  -- Named on the run so archiving the run can delete it (engine/archive/footprint.ts).
  redis.call('HSET', KEYS[1], 'ik:' .. KEYS[4], '1')
end
return {1, first, last}
