-- A customer consents again on one channel (an SMS START, a resubscribe): applied once by the change's
-- id and in the order changes happened, so a replayed or late one cannot reopen what a later change closed.
-- The profile keeps each channel's last change: 'revoked' (unsubscribes, complaints) and 'changed'
-- (re-consents and profile updates), channel -> ms.
-- KEYS: 1 profile, 2 consent changes zset (change id by ms)
-- ARGV: 1 change id, 2 channel, 3 at (ms), 4 ttl seconds, 5 changes kept
-- Returns 1 consent restored, 0 recorded without a change (not newer than the channel's last change, or
-- no profile), -1 this change was applied before.
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return -1 end
local ch, at = ARGV[2], tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], at, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
local raw = redis.call('HMGET', KEYS[1], 'consent', 'revoked', 'changed')
if not raw[1] then return 0 end  -- no profile: nothing was withheld
local consent = cjson.decode(raw[1])
local revoked = raw[2] and cjson.decode(raw[2]) or {}
local changed = raw[3] and cjson.decode(raw[3]) or {}
if (revoked[ch] or 0) >= at or (changed[ch] or 0) >= at then return 0 end
changed[ch] = at
local restored = consent[ch] ~= true or revoked[ch] ~= nil
consent[ch] = true
revoked[ch] = nil
redis.call('HSET', KEYS[1], 'consent', cjson.encode(consent), 'revoked', cjson.encode(revoked),
           'changed', cjson.encode(changed))
return restored and 1 or 0
