-- One pre-send verdict, atomically, on the customer's slot: every rule and the ledger update. A function
-- (`decide`) that lua/decide_many.lua runs for each decision of a call, and a what-if replay (lua/replay.lua)
-- for each logged one.
-- KEYS: 1 profile, 2 vectors, 3 sends ledger, 4 offers, 5 state, 6 pending deliveries, 7 blocked topics,
--       8 standing verdicts (message_id -> verdict JSON), 9 their expiry (message_id by ms)
-- ARGV[1]: the parameters, a table: named and documented in suppressor/decisions/decide.py
--   (`static_params` for the policy and model, `request_params` per call), the static ones behind its
--   metatable (never changed here: a call and a replay hand the same ones to every decision);
--   then pairs: candidate channel, packed float32 item vector for it ('' = unknown to the model)
-- Returns { JSON verdict (with "dfr": true when the message stood deferred before), packed user vector when a substitute is needed (else ''), 1 if the verdict
-- is one given earlier for this message (asked again while it stands: nothing recorded) else 0 },
-- and when a substitute is needed: the profile's attributes and vehicles (JSON) and the last
-- substitute offered ('' for none).
--
-- The rules are units of their own (suppressor/rules/<name>.py and .lua), put in below (the
-- @rules marker) with their table RULES, in order. Each reads the verdict under way (D) and may add reasons
-- (`fire`), suppress (`stop`) or defer (`defer_to`); each reason code it fires is declared in its unit.
local P = ARGV[1]
local now, dim = P.now, P.dim
local requested, kind = P.channel, P.kind

-- what the substitute for a suppressed sales ask is chosen by (in Python): the customer's
-- attributes and vehicles (its targeting) and the last substitute offered (its rotation)
local function for_substitute()
  local p = redis.call('HMGET', KEYS[1], 'attributes', 'vehicles')
  return { p[1] or '{}', p[2] or '[]', redis.call('HGET', KEYS[5], 'sub_last') or '' }
end

-- a verdict is asked once per message: while it stands, the same answer, and nothing recorded
local standing = redis.call('HGET', KEYS[8], P.mid)
if standing then
  local v = cjson.decode(standing)
  if now < v['until'] then
    local vec = ''
    if v.sub and P.model ~= '' then vec = redis.call('HGET', KEYS[2], P.model) or '' end
    if v.sub then return { standing, vec, 1, unpack(for_substitute()) } end
    return { standing, vec, 1 }
  end
end

-- the customer --------------------------------------------------------------------------------
local prof = redis.call('HMGET', KEYS[1], 'consent', 'preferred_channel', 'stage', 'svc_open', 'tzt', 'hh', 'svc_due',
                        'veh_born')
local consent = prof[1] and cjson.decode(prof[1]) or {}
local preferred, stage, svc_open = prof[2], prof[3], prof[4] == '1'
local svc_due, veh_born = tonumber(prof[7]), tonumber(prof[8])  -- the vehicles' next service, the oldest's birth

-- the customer's lead stage may change any parameter (Policy.stages); P itself is never changed
-- (its static part is shared by every decision of a call and of a replay)
local S = stage and P.by_stage[stage]
if S then
  local Q = setmetatable({}, getmetatable(P))  -- groups not read yet still decode on demand
  for k, v in pairs(P) do Q[k] = v end
  for k, v in pairs(S) do Q[k] = v end
  P = Q
end

local opt_in = {}
for _, ch in ipairs(P.require_opt_in) do opt_in[ch] = true end
local function allowed(ch)
  local c = consent[ch]
  if c == true then return true end
  if c == false then return false end
  return not opt_in[ch]
end
local function reachable(ch)  -- where we may move a message: the customer said yes, or prefers it
  return allowed(ch) and (consent[ch] == true or ch == preferred)
end

-- scoring: the customer vector once, each channel lazily
local fmt = '<' .. string.rep('f', dim + 1)
local U = P.uplift  -- the model's uplift heads (field '' when it has none)
local user_raw, up_raw = false, false
if P.model ~= '' and U.field ~= '' then
  local r = redis.call('HMGET', KEYS[2], P.model, U.field)
  user_raw, up_raw = r[1], r[2]
elseif P.model ~= '' then
  user_raw = redis.call('HGET', KEYS[2], P.model)
end
local user = user_raw and { struct.unpack(fmt, user_raw) } or nil
local scores, candidates, items = {}, {}, {}
for i = 2, #ARGV, 2 do
  candidates[#candidates + 1] = ARGV[i]
  items[ARGV[i]] = ARGV[i + 1]
end
local function score(ch)
  if scores[ch] ~= nil or P.model == '' or not items[ch] or items[ch] == '' then return scores[ch] end
  local item = { struct.unpack(fmt, items[ch]) }
  local raw = item[dim + 1]
  if user then
    raw = raw + user[dim + 1]
    for k = 1, dim do raw = raw + user[k] * item[k] end
  end
  scores[ch] = 1 / (1 + math.exp(-(P.cal_a * raw + P.cal_b)))
  return scores[ch]
end
score(requested)  -- always reported, even when a rule stops the send

-- what sending adds on a channel: each uplift head's calibrated chance (sent, withheld, harm) from the
-- customer's heads' vectors (none: a customer trained after, scored from the message alone) and the
-- message's (after the engagement vector in the channel's argument)
local lifts, up_user = {}, nil
local function lift(ch)
  if lifts[ch] ~= nil then return lifts[ch] or nil end
  local it, base = items[ch], 4 * (dim + 1)
  if U.field == '' or not it or #it <= base then
    lifts[ch] = false
    return nil
  end
  local ud, n = U.dim, #U.cal
  local ufmt = '<' .. string.rep('f', n * (ud + 1))
  if up_user == nil then up_user = up_raw and { struct.unpack(ufmt, up_raw) } or false end
  local iv = { struct.unpack(ufmt, it, base + 1) }
  local p = {}
  for h = 1, n do
    local o = (h - 1) * (ud + 1)
    local raw = iv[o + ud + 1]
    if up_user then
      raw = raw + up_user[o + ud + 1]
      for k = 1, ud do raw = raw + up_user[o + k] * iv[o + k] end
    end
    p[h] = 1 / (1 + math.exp(-(U.cal[h][1] * raw + U.cal[h][2])))
  end
  local r = { with = p[1], without = p[2], harm = p[3] or 0, uplift = p[1] - p[2] }
  lifts[ch] = r
  return r
end

-- the sends ledger in the longest window any rule looks at, read when a rule first asks: {ch, kind, ts}.
-- Members are "decision|channel|kind|ms" (the decision part is ours, no customer id; channels and kinds
-- hold no '|'): read without their scores, which cost more to hand to Lua than the rest of the read.
-- A member written before the time was put in it ("decision|channel|kind") has it only as its score.
local ledger = nil
local function sends()
  if ledger then return ledger end
  ledger = {}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], now - P.ledger_ms, '+inf')) do
    local a = string.find(m, '|', 1, true)
    local b = string.find(m, '|', a + 1, true)
    local c = string.find(m, '|', b + 1, true)
    local s = { ch = string.sub(m, a + 1, b - 1) }
    if c then
      s.kind, s.ts = string.sub(m, b + 1, c - 1), tonumber(string.sub(m, c + 1))
    else
      s.kind, s.ts = string.sub(m, b + 1), tonumber(redis.call('ZSCORE', KEYS[3], m))
    end
    ledger[#ledger + 1] = s
  end
  return ledger
end
local function last_send(ch)
  local t = nil
  for _, s in ipairs(sends()) do
    if (ch == nil or s.ch == ch) and (t == nil or s.ts > t) then t = s.ts end
  end
  return t
end
local function counts(ch_filter, kind_filter, since)
  local n = 0
  for _, s in ipairs(sends()) do
    if s.ts > since and (ch_filter == 'any' or s.ch == ch_filter) and (kind_filter == nil or s.kind == kind_filter) then
      n = n + 1
    end
  end
  return n
end

-- the customer's offset from UTC at a time (ms), from the profile's table of transitions
local tzt = nil
local function utc_offset(ms)
  tzt = tzt or cjson.decode(prof[5])
  local offset = tzt[1][2]  -- before the table starts: its first offset
  for _, tr in ipairs(tzt) do
    if tr[1] * 1000 <= ms then offset = tr[2] end
  end
  return offset
end

-- the verdict under way -----------------------------------------------------------------------
local D = { action = 'send', channel = requested, not_before = nil, reasons = {}, need_vector = false,
            considered = requested }  -- considered: the channel a suppressed message would have gone out on
-- D.value: the send's expected incremental revenue, where the relevance rule weighed it (objective value)
local function fire(r) D.reasons[#D.reasons + 1] = r end
local function stop(action)
  if D.channel ~= cjson.null then D.considered = D.channel end
  D.action, D.channel = action, cjson.null
end
local function defer_to(at)
  D.action = 'defer'
  D.not_before = math.max(D.not_before or 0, at)
end

-- the rules: suppressor/rules/<name>.lua, in their order (suppressor.rules.assemble puts them here)
-- @rules
-- in order: a suppression ends the evaluation, deferrals combine (the latest not_before)
-- P.hold (decisions:choose, an `outranked` reason the service names): a candidate that lost is
-- suppressed by it without the rules (they would only say that the winner filled the cap); with
-- `after`, one the rules refused in the choice's dry run keeps their word, and a send is held, unless
-- the pick has `room` left that its `rivals` (the choice's other such candidates) have not taken
local function held()
  local room = P.hold.room
  if not room then return true end
  for _, mid in ipairs(P.hold.rivals) do
    local v = mid ~= P.mid and redis.call('HGET', KEYS[8], mid)
    v = v and cjson.decode(v)
    if v and (v.action == 'send' or v.action == 'reroute') and now < v['until'] then room = room - 1 end
  end
  return room <= 0
end
local function hold()
  local r = {}
  for k, v in pairs(P.hold) do
    if k ~= 'after' and k ~= 'room' and k ~= 'rivals' then r[k] = v end
  end
  fire(r)
  stop('suppress')
end
if P.hold and not P.hold.after then
  hold()
else
  for _, rule in ipairs(RULES) do
    if rule() == 'exempt' or D.action == 'suppress' then break end
  end
  if P.hold and (D.action == 'send' or D.action == 'reroute') and held() then hold() end
end

-- record. A full store (noeviction past maxmemory) refuses a script's first write when it may grow
-- memory (Redis 6.2 and 7 alike), and then refuses the whole script; once a script has written,
-- the rest goes through. So every decision's first write is a ZADD or an HSET, and the sweeps of what
-- lapsed (deletions) come last: a full store refuses the verdict whole (the caller's failure mode),
-- never records half of it past the limit, nor the decisions after it in the same call.
local action, channel = D.action, D.channel
local wrote = false
-- the send counts against every cap from now on (released if the caller does not send)
if (action == 'send' or action == 'reroute') and not P.dry
    and (not P.is_transactional or P.transactional.count_toward_caps) then
  wrote = true
  redis.call('ZADD', KEYS[3], now, P.seq .. '|' .. channel .. '|' .. kind .. '|' .. now)
  redis.call('PEXPIRE', KEYS[3], math.min(P.ledger_ms + 86400000, P.retention_ms))
  if P.offer and not P.is_transactional then
    redis.call('HSET', KEYS[4], P.offer.key, cjson.encode({ terms = P.offer.terms, tj = P.offer.terms_json, ch = channel,
      ['until'] = P.offer['until'] or (now + P.offers.window_ms), at = now, did = P.did }))
    redis.call('PEXPIRE', KEYS[4], math.min(math.max(P.offers.window_ms, (P.offer['until'] or 0) - now) + 86400000,
                                            P.retention_ms))
  end
end

-- the verdict stands for the window; a deferred one only until it may go out
local v_until = now + P.verdict_window_ms
if action == 'defer' then v_until = math.min(D.not_before, v_until) end
-- rc (the requested channel) and cp (the campaign): the verdict is its own record when the log's copy was
-- lost with the process that held it (suppressor/customers/timeline.py reads both)
local lu = lift(channel ~= cjson.null and channel or D.considered)
local verdict = cjson.encode({ action = action, channel = channel, considered = D.considered, not_before = D.not_before,
                               rc = requested, cp = P.campaign,
                               scores = scores, up = lu and lu.uplift, val = D.value, reasons = D.reasons, did = P.did, at = now, pv = P.policy_version,
                               mv = P.model, sub = D.need_vector, ['until'] = v_until,
                               hh = (not P.is_transactional and not P.holdout) and prof[6] or nil })
-- a deferred message is marked in the state hash ('dfr|' .. message id), so the service can tell the
-- tenant's index of due deferrals (suppressor/customers/deferred.py) when it is decided again. The mark
-- is read first and changed after the verdict is written: a deletion as a decision's first write would
-- let a full store take every later decision of the call (lua/decide_many.lua) past its limit.
local mark = 'dfr|' .. P.mid
local was_deferred = not P.dry and redis.call('HEXISTS', KEYS[5], mark) == 1
if was_deferred then verdict = string.sub(verdict, 1, -2) .. ',"dfr":true}' end
if not P.dry and v_until > now then
  wrote = true
  redis.call('HSET', KEYS[8], P.mid, verdict)
  redis.call('ZADD', KEYS[9], v_until, P.mid)
  redis.call('PEXPIRE', KEYS[8], math.min(P.verdict_window_ms + 60000, P.retention_ms))
  redis.call('PEXPIRE', KEYS[9], math.min(P.verdict_window_ms + 60000, P.retention_ms))
end
if not P.dry and action == 'defer' then
  wrote = true
  redis.call('HSET', KEYS[5], mark, D.not_before)
  if redis.call('PTTL', KEYS[5]) < 0 then  -- no TTL yet: a month past the deferral (within the retention)
    redis.call('PEXPIRE', KEYS[5], math.min(D.not_before - now + 31 * 86400000, P.retention_ms))
  end
elseif was_deferred then
  if not wrote then redis.call('HSET', KEYS[5], mark, 0) end  -- a write a full store refuses comes first
  redis.call('HDEL', KEYS[5], mark)
end
if wrote then  -- the sweeps: lapsed verdicts, sends older than any rule looks at
  local expired = redis.call('ZRANGEBYSCORE', KEYS[9], '-inf', now, 'LIMIT', 0, 100)
  if #expired > 0 then
    redis.call('HDEL', KEYS[8], unpack(expired))
    redis.call('ZREM', KEYS[9], unpack(expired))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - P.ledger_ms)
end
if D.need_vector then return { verdict, user_raw or '', 0, unpack(for_substitute()) } end
return { verdict, '', 0 }
