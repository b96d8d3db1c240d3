-- markTask: record a task attempt's live status beside the run record, with its history entry,
-- without touching the run's snapshot or sequence number.
-- KEYS[1] run hash, KEYS[2] history stream
-- ARGV[1] task id, ARGV[2] live status JSON ({status, attempts}), ARGV[3] history entry JSON ('' = none)
-- Replies: {1, seq}  recorded (seq 0 when no entry)
--          {-4}      the run does not exist
if redis.call('EXISTS', KEYS[1]) == 0 then return {-4} end
redis.call('HSET', KEYS[1], 'ts:' .. ARGV[1], ARGV[2])
if ARGV[3] == '' then return {1, 0} end
local s = redis.call('HINCRBY', KEYS[1], 'hseq', 1)
redis.call('XADD', KEYS[2], s .. '-0', 'e', ARGV[3])
return {1, s}
