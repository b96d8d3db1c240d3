-- extWithdraw: the run no longer waits for an external task (it left the state, or ended). The record
-- stays a day as a tombstone, so its worker hears 410 and a late outbox flush does not offer it again.
-- KEYS[1] task record hash, KEYS[2] locked set
-- Records and ready sets of tasks found in a set derive from the prefixes in ARGV (their ids are only known
-- inside the script); every such key carries the same {hash tag} as KEYS, so all stay in one Cluster slot.
-- ARGV[1] ready set key prefix, ARGV[2] task id
-- Replies: 1 withdrawn, 0 nothing to withdraw (unknown, done or withdrawn already)
local st = redis.call('HMGET', KEYS[1], 'status', 'type')
if not st[1] or st[1] == 'done' or st[1] == 'withdrawn' then return 0 end
redis.call('ZREM', ARGV[1] .. st[2], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'withdrawn', 'token', '')
redis.call('EXPIRE', KEYS[1], 86400)
return 1
