-- commitStep: write a run's new record, its history entries, the outbox of jobs the step implies, the
-- step's outbox marker and its index updates, all or nothing, guarded by the run's sequence number.
-- Every key is in the run's partition (one hash tag, one Redis Cluster slot) and declared.
-- KEYS[1] run hash          (fields: seq, doc, hseq, ts:<taskId>, ik:<idempotency key>)
-- KEYS[2] history stream    (entry ids "<hseq>-0", field e = entry JSON without seq)
-- KEYS[3] outbox hash       (field = outbox entry id, value = entry JSON)
-- KEYS[4] idempotency key   (string; only read/written when ARGV[4] ~= '')
-- KEYS[5] the partition's outbox marker set (only written when ARGV[6] ~= '')
-- KEYS[6..] index keys the step updates (sorted sets, human task documents), named below by number
-- ARGV[1] expected seq, or 'new' when the run must not exist yet
-- ARGV[2] new seq
-- ARGV[3] new doc JSON
-- ARGV[4] idempotency value to store ('' = no idempotency key)
-- ARGV[5] idempotency TTL in seconds
-- ARGV[6] outbox marker member ('' = the step has no outbox), ARGV[7] its score
-- ARGV[8] n = number of history entries, then the n entries
-- then m = number of outbox entries, then m pairs (id, JSON)
-- then k = number of task ids whose live status fields to drop, then the k ids
-- then j = number of tasks newly awaited, then j pairs (task id, live status JSON)
-- then a = number of index additions, then a triples (key number, score, member)
-- then r = number of index removals, then r pairs (key number, member)
-- then d = number of documents to store, then d pairs (key number, JSON)
-- Replies: {OK, firstSeq, lastSeq}   committed
--          {STALE, currentSeq}       the run moved on (or does not exist): re-read and retry
--          {EXISTS}                  'new' but the run exists already
--          {DUPLICATE, storedValue}  the idempotency key was used already
-- A refusal writes nothing: every check comes before the first write.
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
if ARGV[4] ~= '' then
  local prior = redis.call('GET', KEYS[4])
  if prior then return {DUPLICATE, prior} end
end
local cur = redis.call('HGET', KEYS[1], 'seq')
if ARGV[1] == 'new' then
  if cur then return {EXISTS} end
elseif cur ~= ARGV[1] then
  return {STALE, cur or ''}
end
-- Few commands: one HDEL and one HSET for the record's fields, one HINCRBY for every history entry's
-- seq, one HSET for the outbox.
local at = 8
local n = tonumber(ARGV[at])
local hist = at
at = at + n + 1
local m = tonumber(ARGV[at])
local outbox = at
at = at + 2 * m + 1
local k = tonumber(ARGV[at])
if k > 0 then
  local fields = {}
  for i = 1, k do fields[i] = 'ts:' .. ARGV[at + i] end
  redis.call('HDEL', KEYS[1], unpack(fields))
end
at = at + k + 1
local j = tonumber(ARGV[at])
local record = {'seq', ARGV[2], 'doc', ARGV[3]}
for i = 1, j do
  record[#record + 1] = 'ts:' .. ARGV[at + 2 * i - 1]
  record[#record + 1] = ARGV[at + 2 * i]
end
if ARGV[4] ~= '' then
  -- Named on the run so archiving the run can delete it (engine/archive/footprint.ts).
  record[#record + 1] = 'ik:' .. KEYS[4]
  record[#record + 1] = '1'
end
redis.call('HSET', KEYS[1], unpack(record))
local first = 0
local last = 0
if n > 0 then
  last = redis.call('HINCRBY', KEYS[1], 'hseq', n)
  first = last - n + 1
  for i = 1, n do
    redis.call('XADD', KEYS[2], (first + i - 1) .. '-0', 'e', ARGV[hist + i])
  end
end
if m > 0 then
  local entries = {}
  for i = 1, 2 * m do entries[i] = ARGV[outbox + i] end
  redis.call('HSET', KEYS[3], unpack(entries))
end
if ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[6])
end
at = at + 2 * j + 1
local a = tonumber(ARGV[at])
for i = 1, a do
  local b = at + 3 * (i - 1)
  redis.call('ZADD', KEYS[tonumber(ARGV[b + 1])], ARGV[b + 2], ARGV[b + 3])
end
at = at + 3 * a + 1
local r = tonumber(ARGV[at])
for i = 1, r do
  redis.call('ZREM', KEYS[tonumber(ARGV[at + 2 * i - 1])], ARGV[at + 2 * i])
end
at = at + 2 * r + 1
local d = tonumber(ARGV[at])
for i = 1, d do
  redis.call('SET', KEYS[tonumber(ARGV[at + 2 * i - 1])], ARGV[at + 2 * i])
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[4], ARGV[4], 'EX', tonumber(ARGV[5]))
end
return {OK, first, last}
