-- Record one measure entry of a run, once: the entry, its place in time, and the running figures
-- (all time, and per UTC day of the run's opening) for the measure and each dimension value.
-- KEYS[1] = the workflow's KPI key base (carries the hash tag; every key below shares it)
-- ARGV: entryId, runId, measure, value, openedAtMs, day, quantile(0|1), entryJson, nDims, dimField...
local base = KEYS[1]
local id, runId, measure, value, openedAt, day, quantile = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('SISMEMBER', base .. ':x', runId) == 1 then return 0 end
if redis.call('HSETNX', base .. ':e', id, ARGV[8]) == 0 then return 0 end
redis.call('SADD', base .. ':r:' .. runId, id)
redis.call('ZADD', base .. ':t', openedAt, id)
local n = tonumber(ARGV[9])
local scopes = { base .. ':all', base .. ':d:' .. day }
for _, scope in ipairs(scopes) do
  redis.call('HINCRBY', scope, measure .. '||n', 1)
  redis.call('HINCRBYFLOAT', scope, measure .. '||s', value)
  for i = 1, n do
    local dim = ARGV[9 + i]
    redis.call('HINCRBY', scope, measure .. '|' .. dim .. '|n', 1)
    redis.call('HINCRBYFLOAT', scope, measure .. '|' .. dim .. '|s', value)
  end
end
if quantile == '1' then
  redis.call('ZADD', base .. ':q:' .. measure .. '|', value, id)
  redis.call('ZADD', base .. ':qt:' .. measure, openedAt, id)
  for i = 1, n do redis.call('ZADD', base .. ':q:' .. measure .. '|' .. ARGV[9 + i], value, id) end
end
return 1
