-- Leave a run out of every figure (a run cancelled is not measured): undo each entry it recorded and
-- refuse any it might still record.
-- Every key is derived from KEYS[1] (which key depends on the data: the day, the dimension values), and
-- all carry its hash tag, so the script stays in one Redis Cluster slot.
-- KEYS[1] = the workflow's KPI key base; ARGV[1] = runId
-- Reply: {OK, how many entries were undone}.
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
local base, runId = KEYS[1], ARGV[1]
redis.call('SADD', base .. ':x', runId)
local ids = redis.call('SMEMBERS', base .. ':r:' .. runId)
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', base .. ':e', id)
  if raw then
    local e = cjson.decode(raw)
    local scopes = { base .. ':all', base .. ':d:' .. e.day }
    local dims = e.dims or {}
    local count = e.n or 1
    for _, scope in ipairs(scopes) do
      redis.call('HINCRBY', scope, e.m .. '||n', -count)
      redis.call('HINCRBYFLOAT', scope, e.m .. '||s', -e.v)
      for _, dim in ipairs(dims) do
        redis.call('HINCRBY', scope, e.m .. '|' .. dim .. '|n', -count)
        redis.call('HINCRBYFLOAT', scope, e.m .. '|' .. dim .. '|s', -e.v)
      end
    end
    if e.qm then
      redis.call('ZREM', base .. ':q:' .. e.m .. '|', id)
      redis.call('ZREM', base .. ':qt:' .. e.m, e.qm)
      for _, dim in ipairs(dims) do redis.call('ZREM', base .. ':q:' .. e.m .. '|' .. dim, id) end
    end
    redis.call('ZREM', base .. ':t', id)
    redis.call('HDEL', base .. ':e', id)
  end
end
redis.call('DEL', base .. ':r:' .. runId)
return {OK, #ids}
