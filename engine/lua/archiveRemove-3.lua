-- archiveRemove: delete an archived run's own keys, only while it is exactly the copy that was archived.
-- KEYS[1] run hash, KEYS[2] history stream, KEYS[3] outbox hash
-- ARGV[1] the run's seq when archived, ARGV[2] its hseq when archived
-- ARGV[3..] other keys of the run (its idempotency keys), all under the run's hash tag
-- Replies: 1 deleted; 0 the run changed since (or its outbox is not flushed yet): archive it again
--          later; -1 the run is not in Redis
local seq = redis.call('HGET', KEYS[1], 'seq')
if not seq then return -1 end
local hseq = redis.call('HGET', KEYS[1], 'hseq') or '0'
if seq ~= ARGV[1] or hseq ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
for i = 3, #ARGV do
  redis.call('DEL', ARGV[i])
end
return 1
