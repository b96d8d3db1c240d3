-- clearOutbox: drop outbox entries once their jobs are in BullMQ, but only the exact entries
-- that were flushed (a newer step may have written new ones meanwhile).
-- KEYS[1] outbox hash
-- ARGV pairs (id, JSON as flushed)
-- Replies: number of entries removed
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
return removed
