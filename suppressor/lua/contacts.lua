-- Keep one contact-point index hash in step with a profile (see suppressor/customers/contacts.py).
-- KEYS: 1 the index hash (one shard). ARGV: the customer id, the retention (s), then pairs: op ('+' or '-'), field.
-- '+' points the field at the customer; '?' does so only if nobody holds it; '-' removes it only
-- while it still points at them (another customer who took the address since keeps it).
local cid = ARGV[1]
for i = 3, #ARGV, 2 do
  local op, field = ARGV[i], ARGV[i + 1]
  if op == '+' then
    redis.call('HSET', KEYS[1], field, cid)
  elseif op == '?' then
    redis.call('HSETNX', KEYS[1], field, cid)
  elseif redis.call('HGET', KEYS[1], field) == cid then
    redis.call('HDEL', KEYS[1], field)
  end
end
-- the index lives as long as the customers it points at (an entry itself may outlast its customer
-- while others of its shard are written: Redis 6.2 has no per-field expiry)
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
