-- A campaign override removed as a new version: KEYS as policy_put; ARGV 1 the field, 2 the history
-- entry. The first write grows memory (HINCRBY), the deletion follows: a full store refuses the script
-- whole (a deletion first would let the rest write past maxmemory). Returns the new version, 0 if none.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HDEL', KEYS[1], ARGV[1])
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'stamp', t[1] .. '.' .. t[2])
redis.call('LPUSH', KEYS[2], '{"version":' .. v .. ',' .. string.sub(ARGV[2], 2))
redis.call('LTRIM', KEYS[2], 0, 199)
return v
