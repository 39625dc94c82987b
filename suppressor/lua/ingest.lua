-- Store customers' events idempotently, trim the oldest, and apply what behavior changes at once:
-- fatigue streaks, unsubscribes, complaints, purchases. One call stores one or more customers (one on
-- a Redis Cluster, where a call's keys share a slot); each customer's events in the order given.
-- KEYS: six per customer: 1 events hash (event_id -> json), 2 events zset (event_id by ts), 3 profile,
--       4 state hash, 5 pending deliveries zset, 6 blocked topics set
-- ARGV[1] max events kept, ARGV[2] ttl seconds, then per customer, in the order of KEYS: its count
-- of events n, then n sixes: event_id, ts (s), type, channel ('' for none), message_id ('' for
-- none), json (read only for unsubscribes and complaints: the rest is in the six)
-- Returns the count of events newly stored, per customer.
local ENGAGED = { opened = true, clicked = true, replied = true, visited = true, attended = true,
                  converted = true, purchased = true, service_visit = true }
local max, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local STEP = 1000  -- unpack's stack is bounded: long lists go to Redis in steps

local function each_step(cmd, key, list, from, to)
  local out = {}
  for s = from, to, STEP do
    local part = redis.call(cmd, key, unpack(list, s, math.min(s + STEP - 1, to)))
    if type(part) == 'table' then
      for _, v in ipairs(part) do out[#out + 1] = v end
    end
  end
  return out
end

local function clear_pending(pending, ch)
  local prefix = ch .. '|'
  for _, m in ipairs(redis.call('ZRANGE', pending, 0, -1)) do
    if string.sub(m, 1, #prefix) == prefix then redis.call('ZREM', pending, m) end
  end
end

-- the revocation is kept apart (channel -> ms) so a later PUT of stale consent cannot undo it; one
-- older than the channel's last consent change (changed: a re-consent) is recorded as an event but
-- does not close what that change opened
local function revoke(profile, ch, ts)
  local raw = redis.call('HMGET', profile, 'consent', 'revoked', 'changed')
  local consent = raw[1] and cjson.decode(raw[1]) or {}
  if consent[ch] == true and raw[3] and (cjson.decode(raw[3])[ch] or 0) > ts * 1000 then return end
  local revoked = raw[2] and cjson.decode(raw[2]) or {}
  consent[ch] = false
  revoked[ch] = math.max(revoked[ch] or 0, ts * 1000)
  redis.call('HSET', profile, 'consent', cjson.encode(consent), 'revoked', cjson.encode(revoked))
  redis.call('EXPIRE', profile, ttl)
end

local function opt_out(k, t, ch, ts, body)
  local e = cjson.decode(body)
  local topics = e.topics or {}
  local scope = (e.properties and e.properties.scope) or ((#topics > 0) and 'topics' or 'channel')
  if t == 'complained' then scope = 'all' end
  if (scope == 'channel' or scope == 'all') and ch ~= '' then revoke(KEYS[k + 3], ch, ts) end
  if (scope == 'topics' or scope == 'all') and #topics > 0 then
    redis.call('SADD', KEYS[k + 6], unpack(topics))
    redis.call('EXPIRE', KEYS[k + 6], ttl)
  end
end

-- one customer: KEYS[k+1 .. k+6], n events from ARGV[a]
local function store(k, a, n)
  local events, by_time, pending, state = KEYS[k + 1], KEYS[k + 2], KEYS[k + 5], KEYS[k + 4]
  local ids = {}
  for j = 1, n do ids[j] = ARGV[a + 6 * (j - 1)] end
  local have = each_step('HMGET', events, ids, 1, n)
  local fields, times, seen, added, delivered = {}, {}, {}, 0, false
  for j = 1, n do
    local i = a + 6 * (j - 1)
    local eid = ids[j]
    if not have[j] and not seen[eid] then
      seen[eid] = true
      added = added + 1
      fields[2 * added - 1], fields[2 * added] = eid, ARGV[i + 5]
      times[2 * added - 1], times[2 * added] = ARGV[i + 1], eid
      local ts, t, ch, mid = tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
      if t == 'delivered' and ch ~= '' then
        redis.call('ZADD', pending, ts * 1000, ch .. '|' .. (mid ~= '' and mid or eid))
        delivered = true
      elseif t == 'ignored' and ch ~= '' then
        redis.call('ZREM', pending, ch .. '|' .. mid)
        redis.call('HINCRBY', state, 'ign:' .. ch, 1)
      elseif ENGAGED[t] and ch ~= '' then
        redis.call('HSET', state, 'ign:' .. ch, 0)
        clear_pending(pending, ch)
      end
      if t == 'purchased' then
        local last = tonumber(redis.call('HGET', state, 'last_purchase') or '0')
        if ts * 1000 > last then redis.call('HSET', state, 'last_purchase', ts * 1000) end
      elseif t == 'unsubscribed' or t == 'complained' then
        opt_out(k, t, ch, ts, ARGV[i + 5])
      end
    end
  end
  if added == 0 then return 0 end
  each_step('HSET', events, fields, 1, #fields)
  each_step('ZADD', by_time, times, 1, #times)
  local count = redis.call('ZCARD', by_time)
  if count > max then
    local old, gone = redis.call('ZPOPMIN', by_time, count - max), {}
    for j = 1, #old, 2 do gone[#gone + 1] = old[j] end
    each_step('HDEL', events, gone, 1, #gone)
  end
  if delivered then redis.call('ZREMRANGEBYRANK', pending, 0, -201) end  -- the 200 newest unanswered
  for _, key in ipairs({ events, by_time, state, pending }) do redis.call('EXPIRE', key, ttl) end
  return added
end

local out, a = {}, 3
for c = 1, #KEYS / 6 do
  local n = tonumber(ARGV[a])
  out[c] = store(6 * (c - 1), a + 1, n)
  a = a + 1 + 6 * n
end
return out
