-- appendHistory: append entries to a run's history without changing the run (a stale task result,
-- a refused hook item).
-- KEYS[1] run hash, KEYS[2] history stream
-- ARGV[1..n] history entry JSONs
-- Replies: {1, lastSeq}  appended
--          {-4}          the run does not exist
if redis.call('EXISTS', KEYS[1]) == 0 then return {-4} end
local s = 0
for i = 1, #ARGV do
  s = redis.call('HINCRBY', KEYS[1], 'hseq', 1)
  redis.call('XADD', KEYS[2], s .. '-0', 'e', ARGV[i])
end
return {1, s}
