-- Store one customer's events idempotently, trim the oldest, and apply what behavior
-- changes at once: fatigue streaks, unsubscribes, complaints, purchases.
-- KEYS: 1 events hash (event_id -> json), 2 events zset (event_id by ts), 3 profile,
--       4 state hash, 5 pending deliveries zset, 6 blocked topics set
-- ARGV[1] max events kept, ARGV[2] ttl seconds, then triples: event_id, ts (s), json
local ENGAGED = { opened = true, clicked = true, replied = true, visited = true, attended = true,
                  converted = true, purchased = true, service_visit = true }
local ttl = tonumber(ARGV[2])

local function clear_pending(ch)
  local prefix = ch .. '|'
  for _, m in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do
    if string.sub(m, 1, #prefix) == prefix then redis.call('ZREM', KEYS[5], m) end
  end
end

-- the revocation is kept apart (channel -> ms) so a later PUT of stale consent cannot undo it; one
-- older than the channel's last consent change (changed: a re-consent) is recorded as an event but
-- does not close what that change opened
local function revoke(ch, ts)
  local raw = redis.call('HMGET', KEYS[3], 'consent', 'revoked', 'changed')
  local consent = raw[1] and cjson.decode(raw[1]) or {}
  if consent[ch] == true and raw[3] and (cjson.decode(raw[3])[ch] or 0) > ts * 1000 then return end
  local revoked = raw[2] and cjson.decode(raw[2]) or {}
  consent[ch] = false
  revoked[ch] = math.max(revoked[ch] or 0, ts * 1000)
  redis.call('HSET', KEYS[3], 'consent', cjson.encode(consent), 'revoked', cjson.encode(revoked))
  redis.call('EXPIRE', KEYS[3], ttl)
end

local added = 0
for i = 3, #ARGV, 3 do
  local eid, ts = ARGV[i], tonumber(ARGV[i + 1])
  if redis.call('HSETNX', KEYS[1], eid, ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[2], ts, eid)
    added = added + 1
    local e = cjson.decode(ARGV[i + 2])
    local ch, t = e.channel, e.type
    if t == 'delivered' and ch then
      redis.call('ZADD', KEYS[5], ts * 1000, ch .. '|' .. (e.message_id or eid))
    elseif t == 'ignored' and ch then
      redis.call('ZREM', KEYS[5], ch .. '|' .. (e.message_id or ''))
      redis.call('HINCRBY', KEYS[4], 'ign:' .. ch, 1)
    elseif ENGAGED[t] and ch then
      redis.call('HSET', KEYS[4], 'ign:' .. ch, 0)
      clear_pending(ch)
    end
    if t == 'purchased' then
      local last = tonumber(redis.call('HGET', KEYS[4], 'last_purchase') or '0')
      if ts * 1000 > last then redis.call('HSET', KEYS[4], 'last_purchase', ts * 1000) end
    end
    if t == 'unsubscribed' or t == 'complained' then
      local topics = e.topics or {}
      local scope = (e.properties and e.properties.scope) or ((#topics > 0) and 'topics' or 'channel')
      if t == 'complained' then scope = 'all' end
      if (scope == 'channel' or scope == 'all') and ch then revoke(ch, ts) end
      if (scope == 'topics' or scope == 'all') and #topics > 0 then
        redis.call('SADD', KEYS[6], unpack(topics))
        redis.call('EXPIRE', KEYS[6], ttl)
      end
    end
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
redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -201)  -- keep the 200 newest unanswered deliveries
for k = 1, 5 do
  if k ~= 3 then redis.call('EXPIRE', KEYS[k], ttl) end
end
return added
