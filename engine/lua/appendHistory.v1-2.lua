-- appendHistory: append entries to a run's history without changing the run (a stale task result,
-- a refused hook item).
-- KEYS[1] run hash, KEYS[2] history stream
-- ARGV[1..n] history entry JSONs
-- Replies: {OK, lastSeq}  appended
--          {MISSING}      the run does not exist
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
if redis.call('EXISTS', KEYS[1]) == 0 then return {MISSING} end
local s = 0
for i = 1, #ARGV do
  s = redis.call('HINCRBY', KEYS[1], 'hseq', 1)
  redis.call('XADD', KEYS[2], s .. '-0', 'e', ARGV[i])
end
return {OK, s}
