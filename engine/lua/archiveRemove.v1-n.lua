-- archiveRemove: delete an archived run's own keys, only while it is exactly the copy that was archived.
-- Called with a variable number of keys (file suffix -n): the caller passes the count first.
-- KEYS[1] run hash, KEYS[2] history stream, KEYS[3] outbox hash
-- KEYS[4..] the run's other keys (its idempotency keys), all under the run's hash tag
-- ARGV[1] the run's seq when archived, ARGV[2] its hseq when archived
-- Replies: {OK} deleted; {CHANGED} the run changed since (or its outbox is not flushed yet): archive it
--          again later; {MISSING} the run is not in Redis
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
local seq = redis.call('HGET', KEYS[1], 'seq')
if not seq then return {MISSING} end
local hseq = redis.call('HGET', KEYS[1], 'hseq') or '0'
if seq ~= ARGV[1] or hseq ~= ARGV[2] then return {CHANGED} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {CHANGED} end
for i = 1, #KEYS do
  redis.call('DEL', KEYS[i])
end
return {OK}
