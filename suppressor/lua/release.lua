-- Undo a decision's ledger entries (the caller did not send after all).
-- KEYS: 1 sends ledger, 2 offers; ARGV[1] decision id. Returns 1 if anything was released.
local did = ARGV[1]
local prefix = did .. '|'
local released = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(m, 1, #prefix) == prefix then
    released = released + redis.call('ZREM', KEYS[1], m)
  end
end
local offers = redis.call('HGETALL', KEYS[2])
for i = 1, #offers, 2 do
  if cjson.decode(offers[i + 1]).did == did then redis.call('HDEL', KEYS[2], offers[i]) end
end
return released
