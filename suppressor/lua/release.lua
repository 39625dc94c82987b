-- Undo a decision's ledger entries (the caller did not send after all, or the household refused
-- it), and let its message be decided anew, or stand as the given verdict.
-- KEYS: 1 sends ledger, 2 offers, 3 standing verdicts, 4 their expiry; optionally 5 the state hash, where a
--       decision the caller released is marked ('rel|' .. decision id: it was never an exposure, see
--       suppressor/decisions/decide.py `released`)
-- ARGV[1] decision id, ARGV[2] its ledger part (the decision id without the customer);
-- optionally ARGV[3] the message id, ARGV[4] the verdict that stands instead (JSON), ARGV[5] until (ms).
-- Returns 1 if anything was released.
local did = ARGV[1]
local prefix = ARGV[2] .. '|'
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
if ARGV[4] then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
  redis.call('ZADD', KEYS[4], tonumber(ARGV[5]), ARGV[3])
elseif released > 0 then
  local verdicts = redis.call('HGETALL', KEYS[3])
  for i = 1, #verdicts, 2 do
    if cjson.decode(verdicts[i + 1]).did == did then
      redis.call('HDEL', KEYS[3], verdicts[i])
      redis.call('ZREM', KEYS[4], verdicts[i])
    end
  end
end
if KEYS[5] and released > 0 then
  redis.call('HSET', KEYS[5], 'rel|' .. did, 1)
  if redis.call('PTTL', KEYS[5]) < 0 then  -- a new hash: it lasts as the ledger it was released from
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[5], ttl) end
  end
end
return released
