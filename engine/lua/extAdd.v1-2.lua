-- extAdd: offer a task to external workers, once. A task whose record exists (waiting, locked, done
-- or withdrawn, kept a while as a tombstone) is left alone, so a second flush of an outbox adds nothing.
-- KEYS[1] task record hash, KEYS[2] ready set of its type
-- ARGV[1] now (ms), ARGV[2] task id, ARGV[3..] field/value pairs of the record
-- Replies: {OK} added, {EXISTS} known already
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
if redis.call('EXISTS', KEYS[1]) == 1 then return {EXISTS} end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('HSET', KEYS[1], 'status', 'ready', 'readyAt', ARGV[1], 'attempt', 1, 'token', '', 'deadline', 0)
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return {OK}
