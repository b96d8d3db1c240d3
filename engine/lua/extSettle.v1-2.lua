-- extSettle: what a worker holding a lock may do with it, only with the current token and before
-- the lock's deadline. A lock found expired goes back to its type's ready set at once.
-- KEYS[1] task record hash, KEYS[2] locked set
-- Records and ready sets of tasks found in a set derive from the prefixes in ARGV (their ids are only known
-- inside the script); every such key carries the same {hash tag} as KEYS, so all stay in one Cluster slot.
-- ARGV[1] action: 'begin' (complete or give up: the result is being applied; the lock holds for
--         ARGV[4] ms more so a crash now re-delivers the task; field `prior` says whether it was
--         being applied already), 'finish' (the result was applied),
--         'retry' (back to the ready set at ARGV[4], the next attempt), 'extend' (deadline now + ARGV[4])
-- ARGV[2] lock token, ARGV[3] now (ms), ARGV[4] see above, ARGV[5] ready set key prefix, ARGV[6] task id
-- Replies: {OK, ...} done: begin answers the record (HGETALL flat list), retry the next attempt,
--                    extend the new deadline
--          {MISSING}       no such task
--          {WITHDRAWN}     withdrawn: the run no longer waits for it
--          {STALE, status} the token is not the current one, or the task is not locked (being settled)
--          {EXPIRED}       the lock expired (the task is offered again)
--          {DONE}          completed already
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
local st = redis.call('HMGET', KEYS[1], 'status', 'token', 'deadline', 'type', 'attempt')
local status = st[1]
if not status then return {MISSING} end
if status == 'withdrawn' then return {WITHDRAWN} end
if status == 'done' then return {DONE} end
local action = ARGV[1]
local now = tonumber(ARGV[3])
if st[2] ~= ARGV[2] then return {STALE, status} end
if action == 'finish' then
  if status ~= 'settling' then return {STALE, status} end
  redis.call('HSET', KEYS[1], 'status', 'done', 'token', '')
  redis.call('ZREM', KEYS[2], ARGV[6])
  redis.call('EXPIRE', KEYS[1], 3600)
  return {OK}
end
-- A complete repeated while its result is being applied (the first attempt lost its answer) begins again.
local resumed = action == 'begin' and status == 'settling'
if status ~= 'locked' and not resumed then return {STALE, status} end
if tonumber(st[3]) < now then
  redis.call('HSET', KEYS[1], 'status', 'ready', 'token', '', 'worker', '', 'deadline', 0, 'readyAt', now)
  redis.call('HINCRBY', KEYS[1], 'expiries', 1)
  redis.call('ZREM', KEYS[2], ARGV[6])
  redis.call('ZADD', ARGV[5] .. st[4], now, ARGV[6])
  return {EXPIRED}
end
if action == 'begin' then
  redis.call('HSET', KEYS[1], 'status', 'settling', 'prior', status, 'deadline', now + tonumber(ARGV[4]))
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[6])
  return {OK, redis.call('HGETALL', KEYS[1])}
elseif action == 'retry' then
  local at = tonumber(ARGV[4])
  local attempt = tonumber(st[5]) + 1
  redis.call('HSET', KEYS[1], 'status', 'ready', 'token', '', 'worker', '', 'deadline', 0, 'attempt', attempt, 'readyAt', at)
  redis.call('ZREM', KEYS[2], ARGV[6])
  redis.call('ZADD', ARGV[5] .. st[4], at, ARGV[6])
  return {OK, attempt}
elseif action == 'extend' then
  local deadline = now + tonumber(ARGV[4])
  redis.call('HSET', KEYS[1], 'deadline', deadline)
  redis.call('ZADD', KEYS[2], deadline, ARGV[6])
  return {OK, deadline}
end
return redis.error_reply('extSettle: unknown action ' .. action)
