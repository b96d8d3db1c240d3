-- extFetch: lock up to `max` waiting tasks of one type for a worker. Locks that expired first go
-- back to their type's ready set (the worker holding them lost them; its token no longer works).
-- KEYS[1] ready set of the type, KEYS[2] locked set (score = lock deadline)
-- Records and ready sets of tasks found in a set derive from the prefixes in ARGV (their ids are only known
-- inside the script); every such key carries the same {hash tag} as KEYS, so all stay in one Cluster slot.
-- ARGV[1] task record key prefix, ARGV[2] ready set key prefix, ARGV[3] now (ms), ARGV[4] max,
-- ARGV[5] lock ms, ARGV[6] worker id, ARGV[7 .. 6+max] fresh lock tokens
-- Replies: {OK, record...}: the task records locked (HGETALL flat lists), at most max
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
local now = tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  local h = ARGV[1] .. id
  redis.call('ZREM', KEYS[2], id)
  local st = redis.call('HMGET', h, 'status', 'type')
  if st[1] == 'locked' or st[1] == 'settling' then
    redis.call('HSET', h, 'status', 'ready', 'token', '', 'worker', '', 'deadline', 0, 'readyAt', now)
    redis.call('HINCRBY', h, 'expiries', 1)
    redis.call('ZADD', ARGV[2] .. st[2], now, id)
  end
end
local out = {OK}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local deadline = now + tonumber(ARGV[5])
for i, id in ipairs(ids) do
  local h = ARGV[1] .. id
  redis.call('ZREM', KEYS[1], id)
  if redis.call('HGET', h, 'status') == 'ready' then
    redis.call('HSET', h, 'status', 'locked', 'token', ARGV[6 + i], 'worker', ARGV[6], 'deadline', deadline)
    redis.call('ZADD', KEYS[2], deadline, id)
    out[#out + 1] = redis.call('HGETALL', h)
  end
end
return out
