-- The tenant's index of deferred verdicts, by when they are due, on the tenant's own slot (recorded
-- by the service after each decision: a customer's decision runs on the customer's slot).
-- KEYS: 1 index (sorted set, every score 0, members ordered by text: 15-digit not_before ms, '|', entry JSON
--       whose field i is the entry's identity), 2 identity -> member (to replace or drop an entry)
-- ARGV[1]: JSON {lapse_before (15-digit ms: due before it and never asked again = lapsed), ttl_ms, and
--   op 'change': put [[identity, member], ...], drop [identity, ...]; returns the number lapsed
--   op 'page': after (a member, '' for the start), before (15-digit ms, exclusive), limit; returns
--     { number lapsed, member, ... } (up to limit + 1: one more says there is a next page)
local P = cjson.decode(ARGV[1])

local function drop(identity)
  local m = redis.call('HGET', KEYS[2], identity)
  if m then
    redis.call('ZREM', KEYS[1], m)
    redis.call('HDEL', KEYS[2], identity)
  end
end

-- lapsed: due long ago and nobody asked again; removed, and counted
local lapsed = redis.call('ZRANGEBYLEX', KEYS[1], '-', '(' .. P.lapse_before, 'LIMIT', 0, 1000)
for _, m in ipairs(lapsed) do
  redis.call('HDEL', KEYS[2], cjson.decode(string.sub(m, 17)).i)
  redis.call('ZREM', KEYS[1], m)
end

if P.op == 'change' then
  for _, identity in ipairs(P.drop) do drop(identity) end
  for _, e in ipairs(P.put) do
    drop(e[1])
    redis.call('ZADD', KEYS[1], 0, e[2])
    redis.call('HSET', KEYS[2], e[1], e[2])
  end
  if #P.put > 0 then
    for k = 1, 2 do redis.call('PEXPIRE', KEYS[k], P.ttl_ms) end
  end
  return #lapsed
end

local start = P.after == '' and '-' or ('(' .. P.after)
local out = { #lapsed }
for _, m in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], start, '(' .. P.before, 'LIMIT', 0, P.limit + 1)) do
  out[#out + 1] = m
end
return out
