-- A webhook signature claimed once (hooks/freshness.py).
-- KEYS[1] the hook's memory of this signature; ARGV body digest, ttl (s), ABANDONED (s).
-- 0: new (remembered as in flight since now), 1: the same delivery, already answered, 2: used before
-- otherwise, or in flight (the same body, in flight for longer than ABANDONED, is taken over: 0)
local t = redis.call('TIME')
local now = tonumber(t[1])
local v = redis.call('GET', KEYS[1])
local mine = 'p' .. ARGV[1] .. ':'
if v and v == 'd' .. ARGV[1] then return 1 end
if v and not (string.sub(v, 1, #mine) == mine and now - tonumber(string.sub(v, #mine + 1)) > tonumber(ARGV[3])) then
  return 2
end
redis.call('SET', KEYS[1], mine .. now, 'EX', ARGV[2])
return 0
