-- Record a step's measure entries, each once: the entry, its place in time, and the running figures
-- (all time, and per UTC day of the run's opening) for the measure and each dimension value.
-- Every key is derived from KEYS[1] (which key depends on the data: the day, the dimension values), and
-- all carry its hash tag, so the script stays in one Redis Cluster slot.
-- KEYS[1] = the workflow's KPI key base (carries the hash tag; every key below shares it)
-- ARGV: runId, then per entry: id, measure, value, openedAtMs, day, quantileMember ('' when the measure
-- has no median/p90 KPI; else value, dims and id in one string, so a window reads it without the entry),
-- entryJson, count (1; 0 for a correction that moves the sum of a measure the run recorded before, not its
-- count), nDims, dim...
-- Reply: {OK, how many entries were new} (0 when the run is left out, or every entry was recorded before).
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
local base, runId = KEYS[1], ARGV[1]
if redis.call('SISMEMBER', base .. ':x', runId) == 1 then return {OK, 0} end
local recorded = 0
local i = 2
while i <= #ARGV do
  local id, measure, value, openedAt, day, quantile, json = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local count = tonumber(ARGV[i + 7])
  local n = tonumber(ARGV[i + 8])
  local first = i + 9
  i = first + n
  if redis.call('HSETNX', base .. ':e', id, json) == 1 then
    recorded = recorded + 1
    redis.call('SADD', base .. ':r:' .. runId, id)
    redis.call('ZADD', base .. ':t', openedAt, id)
    for _, scope in ipairs({ base .. ':all', base .. ':d:' .. day }) do
      redis.call('HINCRBY', scope, measure .. '||n', count)
      redis.call('HINCRBYFLOAT', scope, measure .. '||s', value)
      for d = first, first + n - 1 do
        redis.call('HINCRBY', scope, measure .. '|' .. ARGV[d] .. '|n', count)
        redis.call('HINCRBYFLOAT', scope, measure .. '|' .. ARGV[d] .. '|s', value)
      end
    end
    if quantile ~= '' then
      redis.call('ZADD', base .. ':q:' .. measure .. '|', value, id)
      redis.call('ZADD', base .. ':qt:' .. measure, openedAt, quantile)
      for d = first, first + n - 1 do redis.call('ZADD', base .. ':q:' .. measure .. '|' .. ARGV[d], value, id) end
    end
  end
end
return {OK, recorded}
