-- Claim event ids in one claims hash (see suppressor/customers/events.py): for each (field, mine) pair,
-- the field becomes mine ('p' + the customer's digest) unless it is held already; say whose it is now.
-- KEYS: 1 the claims hash; ARGV[1] when the hash may expire (unix s), then pairs: field, mine.
-- Returns one number per pair: 1 ours (new, or pending for this customer), 0 a duplicate,
-- 2 an id already used for another customer.
local STEP = 1000  -- unpack's stack is bounded: long lists go to Redis in steps
local fields = {}
for i = 2, #ARGV, 2 do fields[#fields + 1] = ARGV[i] end
local held = {}
for s = 1, #fields, STEP do
  for _, v in ipairs(redis.call('HMGET', KEYS[1], unpack(fields, s, math.min(s + STEP - 1, #fields)))) do
    held[#held + 1] = v
  end
end
local out, new, taken = {}, {}, {}
for k, field in ipairs(fields) do
  local mine = ARGV[2 * k + 1]
  local h = held[k] or taken[field]
  if not h then
    taken[field] = mine
    new[#new + 1], new[#new + 2] = field, mine
    out[k] = 1
  elseif h == mine then out[k] = 1
  elseif string.sub(h, 2) == string.sub(mine, 2) then out[k] = 0
  else out[k] = 2 end
end
for s = 1, #new, 2 * STEP do
  redis.call('HSET', KEYS[1], unpack(new, s, math.min(s + 2 * STEP - 1, #new)))
end
redis.call('EXPIREAT', KEYS[1], ARGV[1])
return out
