-- Claim event ids in one claims hash (see suppressor/customers/events.py): for each (field, mine) pair,
-- HSETNX field -> mine ('p' + the customer's digest), and say whose it is now.
-- KEYS: 1 the claims hash; ARGV[1] when the hash may expire (unix s), then pairs: field, mine.
-- Returns one number per pair: 1 ours (new, or pending for this customer), 0 a duplicate,
-- 2 an id already used for another customer.
local out = {}
for i = 2, #ARGV, 2 do
  local field, mine = ARGV[i], ARGV[i + 1]
  if redis.call('HSETNX', KEYS[1], field, mine) == 1 then
    out[#out + 1] = 1
  else
    local held = redis.call('HGET', KEYS[1], field)
    if held == mine then out[#out + 1] = 1
    elseif string.sub(held, 2) == string.sub(mine, 2) then out[#out + 1] = 0
    else out[#out + 1] = 2 end
  end
end
redis.call('EXPIREAT', KEYS[1], ARGV[1])
return out
