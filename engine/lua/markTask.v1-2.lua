-- markTask: record a task attempt's live status beside the run record, with its history entry,
-- without touching the run's snapshot or sequence number. Only while the run still awaits the task
-- (its `ts:<taskId>` field exists: commitStep sets it when the task is scheduled and drops it when
-- the task completes or is withdrawn).
-- KEYS[1] run hash, KEYS[2] history stream
-- ARGV[1] task id, ARGV[2] live status JSON ({status, attempts}), ARGV[3] history entry JSON ('' = none)
-- Replies: {OK, seq}      recorded (seq 0 when no entry)
--          {MISSING}      the run does not exist
--          {NOT_AWAITED}  the run no longer awaits this task (stale job)
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
if redis.call('EXISTS', KEYS[1]) == 0 then return {MISSING} end
if redis.call('HEXISTS', KEYS[1], 'ts:' .. ARGV[1]) == 0 then return {NOT_AWAITED} end
redis.call('HSET', KEYS[1], 'ts:' .. ARGV[1], ARGV[2])
local s = 0
if ARGV[3] ~= '' then
  s = redis.call('HINCRBY', KEYS[1], 'hseq', 1)
  redis.call('XADD', KEYS[2], s .. '-0', 'e', ARGV[3])
end
return {OK, s}
