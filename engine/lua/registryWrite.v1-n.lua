-- registryWrite: apply a batch of service and CI writes, all or nothing, while the registry still
-- has the version the caller validated them against; each write appends its audit entry.
-- KEYS[1] the registry version (a counter)
-- KEYS[2] the services hash (name -> JSON)
-- KEYS[3] the CIs hash (id -> JSON)
-- KEYS[3+i] the audit list of the i-th write
-- ARGV[1] the expected version ('' for any)
-- ARGV[2] how many audit entries each list keeps
-- then per write, 4 values: kind ('s' service, 'c' CI), key, document ('' deletes), audit entry JSON
-- Replies: {OK, newVersion}     applied
--          {STALE, version}    the registry changed since the caller read it (nothing written)
-- Reply codes are the names of engine/store/replies.ts (scripts.ts defines them ahead of this body).
local version = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= version then return {STALE, version} end
local keep = tonumber(ARGV[2])
local n = (#ARGV - 2) / 4
for i = 1, n do
  local base = 2 + (i - 1) * 4
  local hash = KEYS[2]
  if ARGV[base + 1] == 'c' then hash = KEYS[3] end
  if ARGV[base + 3] == '' then
    redis.call('HDEL', hash, ARGV[base + 2])
  else
    redis.call('HSET', hash, ARGV[base + 2], ARGV[base + 3])
  end
  local audit = KEYS[3 + i]
  redis.call('RPUSH', audit, ARGV[base + 4])
  redis.call('LTRIM', audit, -keep, -1)
end
if n > 0 then version = redis.call('INCR', KEYS[1]) end
return {OK, version}
