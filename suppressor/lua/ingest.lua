-- Store one customer's events idempotently and trim the oldest.
-- KEYS[1] events hash (event_id -> json), KEYS[2] events zset (event_id by ts)
-- ARGV[1] max events kept, ARGV[2] ttl seconds, then triples: event_id, ts, json
local added = 0
for i = 3, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
    added = added + 1
  end
end
local max = tonumber(ARGV[1])
local n = redis.call('ZCARD', KEYS[2])
if n > max then
  local old = redis.call('ZPOPMIN', KEYS[2], n - max)
  for j = 1, #old, 2 do
    redis.call('HDEL', KEYS[1], old[j])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return added
