-- compareAndSet: replace (or delete) a string key only while it still holds the value the caller read
-- (open-run claims by business key, webhook delivery claims).
-- KEYS[1] the key
-- ARGV[1] expected current value
-- ARGV[2] new value; the empty string deletes the key
-- ARGV[3] TTL in seconds for the new value; 0 keeps no TTL
-- Replies: {OK}       replaced (or deleted)
--          {CHANGED}  the key holds something else now (or nothing)
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {CHANGED} end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
elseif tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return {OK}
