-- A new policy version: KEYS 1 the policy hash, 2 its history; ARGV 1 the field, 2 its JSON, 3 the
-- history entry (JSON without the version, which joins it here). Returns the new version.
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
local t = redis.call('TIME')  -- with the version, tells servers their cached copy is current
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], 'stamp', t[1] .. '.' .. t[2])
-- ARGV[3] is the history entry as JSON, built by json.dumps: only the version number joins it here
redis.call('LPUSH', KEYS[2], '{"version":' .. v .. ',' .. string.sub(ARGV[3], 2))
redis.call('LTRIM', KEYS[2], 0, 199)
return v
