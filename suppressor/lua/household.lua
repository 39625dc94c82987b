-- The household's word on a send the customer's own rules let through, atomically, on the
-- household's slot: its caps, its offers and the quiet after a member's purchase; a send it
-- allows is recorded (a retried decision is recorded once).
-- KEYS: 1 sends (ledger id by ms), 2 their details (ledger id -> JSON), 3 offers (offer key -> JSON),
--       4 purchases (customer id -> ms), 5 members
-- ARGV[1]: JSON {op, ...}:
--   op 'check': {now, did, seq (ledger id), cid, channel, kind, priority, dry, ttl_ms (the retention), offer? {key, terms, terms_json,
--     until?}, household (Policy.household_params: caps, offers, shared, quiet_ms, ledger_ms,
--     conflict, better, offer_window_ms)}; returns '' when the household allows the send, else the
--     JSON of a `household` reason.
--   op 'release': {did, seq}: the send did not happen after all; returns 1 if anything was released.
--   op 'purchase': {cid, at (ms)}: a member bought; returns 1.
-- Ids travel as JSON values and hash fields, never inside a delimited string.
local P = cjson.decode(ARGV[1])
local H, now = P.household, P.now

if P.op == 'purchase' then
  local cur = tonumber(redis.call('HGET', KEYS[4], P.cid) or '0')
  if P.at > cur then redis.call('HSET', KEYS[4], P.cid, P.at) end
  redis.call('PEXPIRE', KEYS[4], P.ttl_ms)
  return 1
elseif P.op == 'release' then
  local n = redis.call('ZREM', KEYS[1], P.seq)
  redis.call('HDEL', KEYS[2], P.seq)
  local offers = redis.call('HGETALL', KEYS[3])
  for i = 1, #offers, 2 do
    if cjson.decode(offers[i + 1]).did == P.did then redis.call('HDEL', KEYS[3], offers[i]) end
  end
  return n
end

if redis.call('ZSCORE', KEYS[1], P.seq) then return '' end  -- this decision was allowed already

-- the quiet after another member's purchase: no sales asks to the rest of the household
if P.kind == 'sales' and H.quiet_ms > 0 then
  local p = redis.call('HGETALL', KEYS[4])
  for i = 1, #p, 2 do
    local at = tonumber(p[i + 1])
    if p[i] ~= P.cid and now - at < H.quiet_ms then
      return cjson.encode({ code = 'household', rule = 'purchase', days = (now - at) / 86400000,
                            quiet_days = H.quiet_ms / 86400000 })
    end
  end
end

local function shared(ch)
  for _, c in ipairs(H.shared) do if c == ch then return true end end
  return false
end

-- one face to the household: an offer a member holds binds the others
if H.offers and P.offer then
  local prev = redis.call('HGET', KEYS[3], P.offer.key)
  if prev then
    prev = cjson.decode(prev)
    if prev['until'] > now and prev.cid ~= P.cid then
      local days = (now - prev.at) / 86400000
      if prev.tj == P.offer.terms_json then
        if shared(P.channel) and prev.ch == P.channel then
          return cjson.encode({ code = 'household', rule = 'duplicate', key = P.offer.key, channel = P.channel,
                                days = days })
        end
      else
        if not (H.conflict == 'better_only' and strictly_better(P.offer.terms, prev.terms, H.better)) then
          return cjson.encode({ code = 'household', rule = 'offer_conflict', key = P.offer.key,
                                prev_channel = prev.ch, prev_terms = prev.terms, days = days })
        end
      end
    end
  end
end

-- caps over every member's sends
if #H.caps > 0 then
  local sent = {}
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], now - H.ledger_ms, '+inf', 'WITHSCORES')
  for i = 1, #ids, 2 do
    local d = redis.call('HGET', KEYS[2], ids[i])
    if d then
      d = cjson.decode(d)
      d.ts = tonumber(ids[i + 1])
      sent[#sent + 1] = d
    end
  end
  for _, cap in ipairs(H.caps) do
    local applies = (cap.channel == 'any' or cap.channel == P.channel) and (cap.kind == nil or cap.kind == P.kind)
    if cap.per_offer and not P.offer then applies = false end
    if applies then
      local n = 0
      for _, s in ipairs(sent) do
        if s.ts > now - cap.window_ms and (cap.channel == 'any' or s.ch == cap.channel)
            and (cap.kind == nil or s.kind == cap.kind) and (not cap.per_offer or s.offer == P.offer.key) then
          n = n + 1
        end
      end
      if n >= cap.max then
        return cjson.encode({ code = 'household', rule = 'cap', channel = cap.channel, kind = cap.kind,
                              offer = cap.per_offer and P.offer.key or nil, count = n, max = cap.max,
                              window_ms = cap.window_ms })
      end
      local keep = cap.reserve  -- its last slots kept for high priorities, as a customer's cap keeps them
      if keep and P.priority < keep.min_priority and n >= cap.max - keep.slots then
        return cjson.encode({ code = 'household', rule = 'reserved', channel = cap.channel, kind = cap.kind,
                              count = n, max = cap.max, window_ms = cap.window_ms, slots = keep.slots,
                              min_priority = keep.min_priority, priority = P.priority })
      end
    end
  end
end

if P.dry then return '' end
-- the first write grows memory (ZADD), the sweep of lapsed sends comes after: a full store refuses the
-- script whole (a deletion first would let the rest write past maxmemory; see lua/decide.lua)
local ttl = math.min(math.max(H.ledger_ms, H.offer_window_ms) + 86400000, P.ttl_ms)  -- the members' retention
redis.call('ZADD', KEYS[1], now, P.seq)
redis.call('HSET', KEYS[2], P.seq, cjson.encode({ ch = P.channel, kind = P.kind, cid = P.cid, did = P.did,
                                                  offer = P.offer and P.offer.key or nil }))
for i = 1, 2 do redis.call('PEXPIRE', KEYS[i], ttl) end
if H.offers and P.offer then
  redis.call('HSET', KEYS[3], P.offer.key, cjson.encode({ terms = P.offer.terms, tj = P.offer.terms_json, ch = P.channel,
    ['until'] = P.offer['until'] or (now + H.offer_window_ms), at = now, did = P.did, cid = P.cid }))
  redis.call('PEXPIRE', KEYS[3], ttl)
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - H.ledger_ms)
if #stale > 0 then
  redis.call('ZREM', KEYS[1], unpack(stale))
  redis.call('HDEL', KEYS[2], unpack(stale))
end
return ''
