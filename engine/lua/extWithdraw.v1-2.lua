-- extWithdraw: the run no longer waits for an external task (it left the state, or ended). The record
-- stays a day as a tombstone, so its worker hears 410 and a late outbox flush does not offer it again.
-- KEYS[1] task record hash, KEYS[2] locked set
-- Records and ready sets of tasks found in a set derive from the prefixes in ARGV (their ids are only known
-- inside the script); every such key carries the same {hash tag} as KEYS, so all stay in one Cluster slot.
-- ARGV[1] ready set key prefix, ARGV[2] task id
-- Replies: {OK} withdrawn; nothing to withdraw: {MISSING} unknown, {DONE} completed, {WITHDRAWN} already
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
local st = redis.call('HMGET', KEYS[1], 'status', 'type')
if not st[1] then return {MISSING} end
if st[1] == 'done' then return {DONE} end
if st[1] == 'withdrawn' then return {WITHDRAWN} end
redis.call('ZREM', ARGV[1] .. st[2], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'withdrawn', 'token', '')
redis.call('EXPIRE', KEYS[1], 86400)
return {OK}
