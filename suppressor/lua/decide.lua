-- One pre-send verdict, atomically, on the customer's slot: every rule and the ledger update.
-- KEYS: 1 profile, 2 vectors, 3 sends ledger, 4 offers, 5 state, 6 pending deliveries, 7 blocked topics,
--       8 standing verdicts (message_id -> verdict JSON), 9 their expiry (message_id by ms)
-- ARGV[1]: the parameters, as JSON (a replay hands them over as a table): named and documented in
--   suppressor/decisions/decide.py (`static_params` for the policy and model, `request_params` per call);
--   live, the larger policy groups named in LAZY come apart, as ARGV[2 .. 1 + #LAZY] (JSON each);
--   then pairs: candidate channel, packed float32 item vector for it ('' = unknown to the model)
-- Returns { JSON verdict, packed user vector when a substitute is needed (else ''), 1 if the verdict
-- is one given earlier for this message (asked again while it stands: nothing recorded) else 0 },
-- and when a substitute is needed: the profile's attributes and vehicles (JSON) and the last
-- substitute offered ('' for none).
--
-- The rules are the local functions `rule_*` below, run in the order of RULES. Each reads the
-- verdict under way (D) and may add reasons (`fire`), suppress (`stop`) or defer (`defer_to`).
-- Every reason code a rule fires is listed in suppressor/policy/reasons.py (a test keeps both in step).
-- decoding JSON is the costliest step of a call (~27 us for a whole policy): a group is decoded
-- when a rule first reads it, and most verdicts end before most rules run (= decide.LAZY)
local LAZY = { 'caps', 'fatigue', 'balance', 'offers', 'learned', 'quiet', 'lifecycle', 'stage_thresholds', 'by_stage' }
local P, first_pair = ARGV[1], 2
if type(P) ~= 'table' then
  P, first_pair = cjson.decode(ARGV[1]), 2 + #LAZY
  local texts = {}
  for n, name in ipairs(LAZY) do texts[name] = ARGV[1 + n] end
  setmetatable(P, { __index = function(t, k)
    local text = texts[k]
    if text == nil then return nil end
    local v = cjson.decode(text)
    rawset(t, k, v)
    return v
  end })
end
local now, dim = P.now, P.dim
local requested, kind = P.channel, P.kind

-- what the substitute for a suppressed sales ask is chosen by (in Python): the customer's
-- attributes and vehicles (its targeting) and the last substitute offered (its rotation)
local function for_substitute()
  local p = redis.call('HMGET', KEYS[1], 'attributes', 'vehicles')
  return { p[1] or '{}', p[2] or '[]', redis.call('HGET', KEYS[5], 'sub_last') or '' }
end

-- a verdict is asked once per message: while it stands, the same answer, and nothing recorded
local expired = redis.call('ZRANGEBYSCORE', KEYS[9], '-inf', now, 'LIMIT', 0, 100)
if #expired > 0 then
  redis.call('HDEL', KEYS[8], unpack(expired))
  redis.call('ZREM', KEYS[9], unpack(expired))
end
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
-- (a replay hands the same table to every decision)
local S = stage and P.by_stage[stage]
if S then
  local Q = setmetatable({}, getmetatable(P))  -- groups not read yet still decode on demand
  for k, v in pairs(P) do Q[k] = v end
  for k, v in pairs(S) do Q[k] = v end
  P = Q
end

local opt_in = {}
for _, ch in ipairs(P.opt_in) do opt_in[ch] = true end
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
local user_raw = (P.model ~= '') and redis.call('HGET', KEYS[2], P.model) or false
local user = user_raw and { struct.unpack(fmt, user_raw) } or nil
local scores, candidates, items = {}, {}, {}
for i = first_pair, #ARGV, 2 do
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

-- the sends ledger in the longest window any rule looks at: {did, ch, kind, ts}
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - P.ledger_ms)
local ledger = {}
local raw_ledger = redis.call('ZRANGEBYSCORE', KEYS[3], now - P.ledger_ms, '+inf', 'WITHSCORES')
for i = 1, #raw_ledger, 2 do
  -- members are "decision|channel|kind": the decision part is ours (no customer id), channels and kinds hold no '|'
  local did, ch, k = string.match(raw_ledger[i], '^([^|]*)|([^|]*)|(.*)$')
  ledger[#ledger + 1] = { did = did, ch = ch, kind = k, ts = tonumber(raw_ledger[i + 1]) }
end
local function last_send(ch)
  local t = nil
  for _, s in ipairs(ledger) do
    if (ch == nil or s.ch == ch) and (t == nil or s.ts > t) then t = s.ts end
  end
  return t
end
local function counts(ch_filter, kind_filter, since)
  local n = 0
  for _, s in ipairs(ledger) do
    if s.ts > since and (ch_filter == 'any' or s.ch == ch_filter) and (kind_filter == nil or s.kind == kind_filter) then
      n = n + 1
    end
  end
  return n
end

-- the verdict under way -----------------------------------------------------------------------
local D = { action = 'send', channel = requested, not_before = nil, reasons = {}, need_vector = false,
            considered = requested }  -- considered: the channel a suppressed message would have gone out on
local function fire(r) D.reasons[#D.reasons + 1] = r end
local function stop(action)
  if D.channel ~= cjson.null then D.considered = D.channel end
  D.action, D.channel = action, cjson.null
end
local function defer_to(at)
  D.action = 'defer'
  D.not_before = math.max(D.not_before or 0, at)
end

-- the rules -----------------------------------------------------------------------------------

-- consent: transactional messages honor it unless the policy says otherwise
local function rule_consent()
  if P.transactional and not P.tx_honor_consent then return end
  if allowed(requested) then return end
  local state = (consent[requested] == false) and 'opted_out' or 'no_opt_in'
  local best, best_s = nil, -1
  if P.allow_reroute then
    for _, ch in ipairs(candidates) do
      if ch ~= requested and reachable(ch) then
        local s = (score(ch) or 0) + ((ch == preferred) and 2 or 0)
        if s > best_s then best, best_s = ch, s end
      end
    end
  end
  if best then
    D.action, D.channel = 'reroute', best
    fire({ code = 'consent', channel = requested, state = state, to = best })
  else
    fire({ code = 'consent', channel = requested, state = state,
           reroute = P.allow_reroute and 'no_consented_channel' or 'not_allowed' })
    stop('suppress')
  end
end

-- topics the customer unsubscribed from (consent too)
local function rule_topics()
  if P.transactional then return end
  for _, t in ipairs(P.topics) do
    if redis.call('SISMEMBER', KEYS[7], t) == 1 then
      fire({ code = 'consent', topic = t })
      stop('suppress')
      return
    end
  end
end

-- transactional messages and holdout customers skip every rule after this one
local function rule_exempt()
  if P.transactional then
    fire({ code = 'transactional' })
    return 'exempt'
  elseif P.holdout then
    fire({ code = 'holdout', fraction = P.holdout_fraction })
    return 'exempt'
  end
end

-- the household's word: live, lua/household.lua gives it after these rules (on the household's
-- slot); a replay hands over the word the household gave when the decision was logged
local function rule_household()
  if P.household_said then
    fire(P.household_said)
    stop('suppress')
  end
end

-- the kinds of message the policy (for this stage) sends at all
local function rule_kind()
  for _, k in ipairs(P.kinds) do if k == kind then return end end
  fire({ code = 'kind_not_allowed', kind = kind, stage = S and stage or nil })
  stop('suppress')
end

-- lifecycle gates: no sales asks after a purchase or while a service order is open
local function rule_lifecycle()
  if kind ~= 'sales' then return end
  local st = redis.call('HGET', KEYS[5], 'last_purchase')
  if st and now - tonumber(st) < P.lifecycle.post_purchase_ms then
    fire({ code = 'lifecycle', gate = 'post_purchase', days = (now - tonumber(st)) / 86400000,
           quiet_days = P.lifecycle.post_purchase_ms / 86400000 })
    stop('suppress')
  elseif svc_open and P.lifecycle.service_blocks then
    fire({ code = 'lifecycle', gate = 'service_open' })
    stop('suppress')
  end
end

-- channel: the stated preference, then the learned affinity (when the caller allows a reroute)
local function rule_channel()
  if not P.allow_reroute then return end
  if preferred and preferred ~= D.channel and reachable(preferred) and items[preferred] then
    fire({ code = 'channel_preference', from = D.channel, to = preferred, stated = true })
    D.action, D.channel = 'reroute', preferred
  elseif P.learned.on and P.model ~= '' and score(D.channel) then
    local base = score(D.channel)
    local best, best_s = nil, base + P.learned.margin
    for _, ch in ipairs(candidates) do
      if ch ~= D.channel and reachable(ch) then
        local s = score(ch)
        if s and s >= best_s then best, best_s = ch, s end
      end
    end
    if best then
      fire({ code = 'channel_preference', from = D.channel, to = best, score = best_s, was = base, margin = P.learned.margin })
      D.action, D.channel = 'reroute', best
    end
  end
end

-- what the customer's vehicles make relevant whatever the score: service due soon, an old car
-- and a trade-in offer
local function lifecycle_fit()
  local L = P.lifecycle
  if kind == 'service' and L.service_due_ms > 0 and svc_due and svc_due - now <= L.service_due_ms then
    return { code = 'service_due', days = (svc_due - now) / 86400000 }
  end
  if kind == 'sales' and L.trade_in_ms > 0 and veh_born and now - veh_born >= L.trade_in_ms then
    for _, t in ipairs(P.topics) do
      for _, w in ipairs(L.trade_in_topics) do
        if t == w then return { code = 'trade_in_age', years = (now - veh_born) / 31557600000, topic = t } end
      end
    end
  end
end

-- relevance on the chosen channel (the threshold may depend on the lead stage)
local function rule_relevance()
  local th = P.threshold
  local by_stage = stage and P.stage_thresholds[stage]
  if by_stage then th = by_stage end
  if P.model == '' then
    fire({ code = 'no_model' })
  elseif score(D.channel) == nil then
    fire({ code = 'unknown_message' })
  else
    if not user then fire({ code = 'new_customer' }) end
    local s = score(D.channel)
    local r = { channel = D.channel, score = s, threshold = th, stage = by_stage and stage or nil }
    local fit = s < th and lifecycle_fit()
    if fit then
      fit.channel, fit.score, fit.threshold = D.channel, s, th
      fire(fit)
    elseif s < th then
      r.code = 'irrelevant'
      fire(r)
      stop('suppress')
    else
      r.code = 'relevant'
      fire(r)
    end
  end
end

-- one face to the customer: offer conflicts and duplicates across channels
local function rule_offers()
  if not (P.offers.on and P.offer) then return end
  local prev = redis.call('HGET', KEYS[4], P.offer.key)
  if not prev then return end
  prev = cjson.decode(prev)
  if prev['until'] <= now then return end
  local days = (now - prev.at) / 86400000
  if prev.tj == P.offer.terms_json then
    fire({ code = 'offer_conflict', key = P.offer.key, dup = true, prev_channel = prev.ch, days = days })
    stop('suppress')
    return
  end
  if not (P.offers.conflict == 'better_only' and strictly_better(P.offer.terms, prev.terms, P.offers.better)) then
    fire({ code = 'offer_conflict', key = P.offer.key, dup = false, prev_channel = prev.ch,
           prev_terms = prev.terms, mode = P.offers.conflict, days = days })
    stop('suppress')
  end
end

-- frequency caps: every cap that is full fires; any one blocks
local function rule_caps()
  for _, cap in ipairs(P.caps) do
    if (cap.channel == 'any' or cap.channel == D.channel) and (cap.kind == nil or cap.kind == kind) then
      local n = counts(cap.channel, cap.kind, now - cap.window_ms)
      if n >= cap.max then
        fire({ code = 'frequency_cap', channel = cap.channel, kind = cap.kind, count = n, max = cap.max,
               window_ms = cap.window_ms })
        stop('suppress')
      end
    end
  end
end

-- reciprocity: sales asks balanced by value (the suppressed ask gets a substitute)
local function rule_balance()
  if not (P.balance.on and kind == 'sales') then return end
  local since = now - P.balance.window_ms
  local total, sales, value_after_last_sales = 0, 0, 0
  local last_sales_ts = nil
  for _, s in ipairs(ledger) do
    if s.ts > since then
      total = total + 1
      if s.kind == 'sales' then
        sales = sales + 1
        if last_sales_ts == nil or s.ts > last_sales_ts then last_sales_ts = s.ts end
      end
    end
  end
  if last_sales_ts then
    for _, s in ipairs(ledger) do
      if s.ts > last_sales_ts and s.kind ~= 'sales' then value_after_last_sales = value_after_last_sales + 1 end
    end
  end
  local share = (sales + 1) / (total + 1)
  if sales + 1 >= 2 and share > P.balance.max_share then
    fire({ code = 'sales_balance', share = share, max = P.balance.max_share, sales = sales + 1, total = total + 1,
           window_ms = P.balance.window_ms })
  elseif last_sales_ts and value_after_last_sales < P.balance.value_between then
    fire({ code = 'sales_balance', between = value_after_last_sales, need = P.balance.value_between })
  else
    return
  end
  stop('suppress')
  D.need_vector = true
end

-- fatigue: a streak of unanswered messages on the channel rests it
local function rule_fatigue()
  if not P.fatigue.on then return end
  local ch = D.channel
  local streak = tonumber(redis.call('HGET', KEYS[5], 'ign:' .. ch) or '0')
  local prefix = ch .. '|'
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now - P.fatigue.unanswered_ms)) do
    if string.sub(m, 1, #prefix) == prefix then streak = streak + 1 end
  end
  if streak < P.fatigue.streak then return end
  local last = last_send(ch)
  if last and now - last < P.fatigue.cooldown_ms then
    fire({ code = 'fatigue', channel = ch, streak = streak, need = P.fatigue.streak, cool_ms = P.fatigue.cooldown_ms })
    defer_to(last + P.fatigue.cooldown_ms)
  end
end

-- cool-down between any two sends
local function rule_cooldown()
  if P.min_gap_ms <= 0 then return end
  local last = last_send(nil)
  if last and now - last < P.min_gap_ms then
    fire({ code = 'cooldown', gap_ms = P.min_gap_ms, ago_ms = now - last })
    defer_to(last + P.min_gap_ms)
  end
end

-- quiet hours in the customer's time zone (customers without one are not held)
local function rule_quiet_hours()
  if not (P.quiet.on and prof[5]) then return end
  local applies = P.quiet.channels == nil
  if not applies then
    for _, ch in ipairs(P.quiet.channels) do if ch == D.channel then applies = true end end
  end
  if not applies then return end
  local tzt = cjson.decode(prof[5])
  local offset = tzt[1][2]  -- before the table starts: its first offset
  for _, tr in ipairs(tzt) do
    if tr[1] * 1000 <= now then offset = tr[2] end
  end
  local local_min = math.floor(((now / 1000 + offset) % 86400) / 60)
  local s, e = P.quiet.start, P.quiet.stop
  if (s < e and local_min >= s and local_min < e) or (s > e and (local_min >= s or local_min < e)) then
    fire({ code = 'quiet_hours', local_min = local_min, start = s, ['end'] = e })
    defer_to((math.floor(now / 60000) + (e - local_min) % 1440) * 60000)
  end
end

-- in order: a suppression ends the evaluation, deferrals combine (the latest not_before)
local RULES = { rule_consent, rule_topics, rule_exempt, rule_household, rule_kind, rule_lifecycle, rule_channel, rule_relevance, rule_offers,
                rule_caps, rule_balance, rule_fatigue, rule_cooldown, rule_quiet_hours }
for _, rule in ipairs(RULES) do
  if rule() == 'exempt' or D.action == 'suppress' then break end
end

-- record: the send counts against every cap from now on (released if the caller does not send)
local action, channel = D.action, D.channel
if (action == 'send' or action == 'reroute') and not P.dry and (not P.transactional or P.tx_counts) then
  redis.call('ZADD', KEYS[3], now, P.seq .. '|' .. channel .. '|' .. kind)
  redis.call('PEXPIRE', KEYS[3], math.min(P.ledger_ms + 86400000, P.retention_ms))
  if P.offer and not P.transactional then
    redis.call('HSET', KEYS[4], P.offer.key, cjson.encode({ terms = P.offer.terms, tj = P.offer.terms_json, ch = channel,
      ['until'] = P.offer['until'] or (now + P.offers.window_ms), at = now, did = P.did }))
    redis.call('PEXPIRE', KEYS[4], math.min(math.max(P.offers.window_ms, (P.offer['until'] or 0) - now) + 86400000,
                                            P.retention_ms))
  end
end

-- the verdict stands for the window; a deferred one only until it may go out
local v_until = now + P.verdict_ms
if action == 'defer' then v_until = math.min(D.not_before, v_until) end
local verdict = cjson.encode({ action = action, channel = channel, considered = D.considered, not_before = D.not_before,
                               scores = scores, reasons = D.reasons, did = P.did, at = now, pv = P.policy_version,
                               mv = P.model, sub = D.need_vector, ['until'] = v_until,
                               hh = (not P.transactional and not P.holdout) and prof[6] or nil })
if not P.dry and v_until > now then
  redis.call('HSET', KEYS[8], P.mid, verdict)
  redis.call('ZADD', KEYS[9], v_until, P.mid)
  redis.call('PEXPIRE', KEYS[8], math.min(P.verdict_ms + 60000, P.retention_ms))
  redis.call('PEXPIRE', KEYS[9], math.min(P.verdict_ms + 60000, P.retention_ms))
end
if D.need_vector then return { verdict, user_raw or '', 0, unpack(for_substitute()) } end
return { verdict, '', 0 }
