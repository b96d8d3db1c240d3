-- markTask: record a task attempt's live status beside the run record, with its history entry,
-- without touching the run's snapshot or sequence number. Only while the run still awaits the task
-- (its `ts:<taskId>` field exists: commitStep sets it when the task is scheduled and drops it when
-- the task completes or is withdrawn).
-- KEYS[1] run hash, KEYS[2] history stream
-- ARGV[1] task id, ARGV[2] live status JSON ({status, attempts}), ARGV[3] history entry JSON ('' = none)
-- Replies: {1, seq}       recorded (seq 0 when no entry)
--          {-4}           the run does not exist
--          {-5}           the run no longer awaits this task (stale job)
if redis.call('EXISTS', KEYS[1]) == 0 then return {-4} end
if redis.call('HEXISTS', KEYS[1], 'ts:' .. ARGV[1]) == 0 then return {-5} end
redis.call('HSET', KEYS[1], 'ts:' .. ARGV[1], ARGV[2])
local s = 0
if ARGV[3] ~= '' then
  s = redis.call('HINCRBY', KEYS[1], 'hseq', 1)
  redis.call('XADD', KEYS[2], s .. '-0', 'e', ARGV[3])
end
return {1, s}
