-- One pre-send verdict, atomically, on the customer's slot: every rule and the ledger update.
-- KEYS: 1 profile, 2 vectors, 3 sends ledger, 4 offers, 5 state, 6 pending deliveries, 7 blocked topics,
--       8 standing verdicts (message_id -> verdict JSON), 9 their expiry (message_id by ms)
-- ARGV[1]: JSON parameters (see suppressor/decisions.py `static_params`, `request_params`); then pairs:
--   candidate channel, packed float32 item vector for it ('' = unknown to the model)
-- Returns { JSON verdict, packed user vector when a substitute is needed (else ''), 1 if the verdict
-- is one given earlier for this message (asked again while it stands: nothing recorded) else 0 }.
local P = cjson.decode(ARGV[1])
local now, dim = P.now, P.dim
local requested, kind = P.req, P.kind

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
    if v.sub and P.v ~= '' then vec = redis.call('HGET', KEYS[2], P.v) or '' end
    return { standing, vec, 1 }
  end
end

local prof = redis.call('HMGET', KEYS[1], 'consent', 'preferred_channel', 'stage', 'svc_open', 'tzt')
local consent = prof[1] and cjson.decode(prof[1]) or {}
local preferred, stage, svc_open = prof[2], prof[3], prof[4] == '1'

local opt_in = {}
for _, ch in ipairs(P.optin) do opt_in[ch] = true end
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
local user_raw = (P.v ~= '') and redis.call('HGET', KEYS[2], P.v) or false
local user = user_raw and { struct.unpack(fmt, user_raw) } or nil
local scores, candidates, items = {}, {}, {}
for i = 2, #ARGV, 2 do
  candidates[#candidates + 1] = ARGV[i]
  items[ARGV[i]] = ARGV[i + 1]
end
local function score(ch)
  if scores[ch] ~= nil or P.v == '' or not items[ch] or items[ch] == '' then return scores[ch] end
  local item = { struct.unpack(fmt, items[ch]) }
  local raw = item[dim + 1]
  if user then
    raw = raw + user[dim + 1]
    for k = 1, dim do raw = raw + user[k] * item[k] end
  end
  scores[ch] = 1 / (1 + math.exp(-(P.a * raw + P.b)))
  return scores[ch]
end
score(requested)  -- always reported, even when a rule stops the send

-- the sends ledger in the longest window any rule looks at: {did, ch, kind, ts}
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - P.keep_ms)
local ledger = {}
local raw_ledger = redis.call('ZRANGEBYSCORE', KEYS[3], now - P.keep_ms, '+inf', 'WITHSCORES')
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

local reasons = {}
local function fire(r) reasons[#reasons + 1] = r end
local action, channel, not_before = 'send', requested, nil
local need_vector = false

local considered = requested  -- the channel a suppressed message would have gone out on
local function stop(code_action)
  if channel ~= cjson.null then considered = channel end
  action, channel = code_action, cjson.null
end

-- 1. consent (transactional messages honor it unless the policy says otherwise)
local honor_consent = not P.tx or P.tx_consent
if honor_consent and not allowed(requested) then
  local state = (consent[requested] == false) and 'opted_out' or 'no_opt_in'
  local best, best_s = nil, -1
  if P.reroute then
    for _, ch in ipairs(candidates) do
      if ch ~= requested and reachable(ch) then
        local s = (score(ch) or 0) + ((ch == preferred) and 2 or 0)
        if s > best_s then best, best_s = ch, s end
      end
    end
  end
  if best then
    action, channel = 'reroute', best
    fire({ code = 'consent', channel = requested, state = state, to = best })
  else
    fire({ code = 'consent', channel = requested, state = state,
           reroute = P.reroute and 'no_consented_channel' or 'not_allowed' })
    stop('suppress')
  end
end

-- 2. unsubscribed topics
if action ~= 'suppress' and not P.tx and #P.topics > 0 then
  for _, t in ipairs(P.topics) do
    if redis.call('SISMEMBER', KEYS[7], t) == 1 then
      fire({ code = 'consent', topic = t })
      stop('suppress')
      break
    end
  end
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

if action ~= 'suppress' and P.tx then
  fire({ code = 'transactional' })
elseif action ~= 'suppress' and P.hold then
  fire({ code = 'holdout', fraction = P.hold_fraction })
elseif action ~= 'suppress' then
  -- 3. lifecycle gates
  if kind == 'sales' then
    local st = redis.call('HGET', KEYS[5], 'last_purchase')
    if st and now - tonumber(st) < P.life.pp_ms then
      fire({ code = 'lifecycle', gate = 'post_purchase', days = (now - tonumber(st)) / 86400000, quiet_days = P.life.pp_ms / 86400000 })
      stop('suppress')
    elseif svc_open and P.life.svc then
      fire({ code = 'lifecycle', gate = 'service_open' })
      stop('suppress')
    end
  end

  -- 4. channel: explicit preference, then learned affinity
  if action ~= 'suppress' and P.reroute then
    if preferred and preferred ~= channel and reachable(preferred) and items[preferred] then
      fire({ code = 'channel_preference', from = channel, to = preferred, stated = true })
      action, channel = 'reroute', preferred
    elseif P.pref.on and P.v ~= '' and score(channel) then
      local base = score(channel)
      local best, best_s = nil, base + P.pref.margin
      for _, ch in ipairs(candidates) do
        if ch ~= channel and reachable(ch) then
          local s = score(ch)
          if s and s >= best_s then best, best_s = ch, s end
        end
      end
      if best then
        fire({ code = 'channel_preference', from = channel, to = best, score = best_s, was = base, margin = P.pref.margin })
        action, channel = 'reroute', best
      end
    end
  end

  -- 5. relevance on the chosen channel (the threshold may depend on the lead stage)
  if action ~= 'suppress' then
    local th = P.th
    if stage and P.ths[stage] then th = P.ths[stage] end
    if P.v == '' then
      fire({ code = 'no_model' })
    elseif score(channel) == nil then
      fire({ code = 'unknown_message' })
    else
      if not user then fire({ code = 'new_customer' }) end
      local s = score(channel)
      if s < th then
        fire({ code = 'irrelevant', channel = channel, score = s, threshold = th, stage = (stage and P.ths[stage]) and stage or nil })
        stop('suppress')
      else
        fire({ code = 'relevant', channel = channel, score = s, threshold = th, stage = (stage and P.ths[stage]) and stage or nil })
      end
    end
  end

  -- 6. one face to the customer: offer conflicts and duplicates
  if action ~= 'suppress' and P.off.on and P.offer then
    local prev = redis.call('HGET', KEYS[4], P.offer.key)
    if prev then
      prev = cjson.decode(prev)
      if prev['until'] > now then
        if prev.tj == P.offer.tj then
          fire({ code = 'offer_conflict', key = P.offer.key, dup = true, prev_channel = prev.ch, days = (now - prev.at) / 86400000 })
          stop('suppress')
        else
          local better = P.off.mode == 'better_only'
          local any_better = false
          if better then
            for term, dir in pairs(P.off.better) do
              local a, b = P.offer.terms[term], prev.terms[term]
              if type(a) == 'number' and type(b) == 'number' then
                if (dir == 'lower' and a < b) or (dir == 'higher' and a > b) then any_better = true
                elseif a ~= b then better = false end
              end
            end
            for term, v in pairs(P.offer.terms) do  -- a term we cannot compare is not "better"
              if P.off.better[term] == nil and prev.terms[term] ~= v then better = false end
            end
          end
          if not (better and any_better) then
            fire({ code = 'offer_conflict', key = P.offer.key, dup = false, prev_channel = prev.ch,
                   prev_terms = prev.terms, mode = P.off.mode, days = (now - prev.at) / 86400000 })
            stop('suppress')
          end
        end
      end
    end
  end

  -- 7. frequency caps: every rule that is full fires; any one blocks
  if action ~= 'suppress' then
    for _, cap in ipairs(P.caps) do
      if (cap.ch == 'any' or cap.ch == channel) and (cap.kind == nil or cap.kind == kind) then
        local n = counts(cap.ch, cap.kind, now - cap.win_ms)
        if n >= cap.max then
          fire({ code = 'frequency_cap', channel = cap.ch, kind = cap.kind, count = n, max = cap.max, window_ms = cap.win_ms })
          stop('suppress')
        end
      end
    end
  end

  -- 8. reciprocity: sales asks balanced by value
  if action ~= 'suppress' and P.bal.on and kind == 'sales' then
    local since = now - P.bal.win_ms
    local total, sales, value_after_last_sales, seen_sales = 0, 0, 0, false
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
    if sales + 1 >= 2 and share > P.bal.share then
      fire({ code = 'sales_balance', share = share, max = P.bal.share, sales = sales + 1, total = total + 1, window_ms = P.bal.win_ms })
      stop('suppress')
      need_vector = true
    elseif last_sales_ts and value_after_last_sales < P.bal.between then
      fire({ code = 'sales_balance', between = value_after_last_sales, need = P.bal.between })
      stop('suppress')
      need_vector = true
    end
  end

  -- 9. fatigue: a streak of unanswered messages on the channel rests it
  if action ~= 'suppress' and P.fat.on then
    local streak = tonumber(redis.call('HGET', KEYS[5], 'ign:' .. channel) or '0')
    local pending = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now - P.fat.after_ms)
    local prefix = channel .. '|'
    for _, m in ipairs(pending) do
      if string.sub(m, 1, #prefix) == prefix then streak = streak + 1 end
    end
    if streak >= P.fat.streak then
      local last = last_send(channel)
      if last and now - last < P.fat.cool_ms then
        fire({ code = 'fatigue', channel = channel, streak = streak, need = P.fat.streak, cool_ms = P.fat.cool_ms })
        action, not_before = 'defer', last + P.fat.cool_ms
      end
    end
  end

  -- 10. time: cool-down between sends, quiet hours in the customer's time zone
  if action ~= 'suppress' and P.gap_ms > 0 then
    local last = last_send(nil)
    if last and now - last < P.gap_ms then
      fire({ code = 'cooldown', gap_ms = P.gap_ms, ago_ms = now - last })
      action = 'defer'
      not_before = math.max(not_before or 0, last + P.gap_ms)
    end
  end
  if action ~= 'suppress' and P.quiet.on and prof[5] then
    local applies = P.quiet.chans == nil
    if not applies then
      for _, ch in ipairs(P.quiet.chans) do if ch == channel then applies = true end end
    end
    if applies then
      local tzt = cjson.decode(prof[5])
      local offset = tzt[1][2]  -- before the table starts: its first offset
      for _, tr in ipairs(tzt) do
        if tr[1] * 1000 <= now then offset = tr[2] end
      end
      local local_min = math.floor(((now / 1000 + offset) % 86400) / 60)
      local s, e = P.quiet.s, P.quiet.e
      local quiet = (s < e and local_min >= s and local_min < e) or (s > e and (local_min >= s or local_min < e))
      if quiet then
        local wait = (e - local_min) % 1440
        local at = (math.floor(now / 60000) + wait) * 60000
        fire({ code = 'quiet_hours', local_min = local_min, start = s, ['end'] = e })
        action = 'defer'
        not_before = math.max(not_before or 0, at)
      end
    end
  end
end

-- record: the send counts against every cap from now on (released if the caller does not send)
if (action == 'send' or action == 'reroute') and not P.dry and (not P.tx or P.tx_count) then
  redis.call('ZADD', KEYS[3], now, P.seq .. '|' .. channel .. '|' .. kind)
  redis.call('PEXPIRE', KEYS[3], P.keep_ms + 86400000)
  if P.offer and not P.tx then
    redis.call('HSET', KEYS[4], P.offer.key, cjson.encode({ terms = P.offer.terms, tj = P.offer.tj, ch = channel,
      ['until'] = P.offer['until'] or (now + P.off.win_ms), at = now, did = P.did }))
    redis.call('PEXPIRE', KEYS[4], math.max(P.off.win_ms, (P.offer['until'] or 0) - now) + 86400000)
  end
end

-- the verdict stands for the window; a deferred one only until it may go out
local v_until = now + P.vwin_ms
if action == 'defer' then v_until = math.min(not_before, v_until) end
local verdict = cjson.encode({ action = action, channel = channel, considered = considered, not_before = not_before,
                               scores = scores, reasons = reasons, did = P.did, at = now, pv = P.pv, mv = P.v,
                               sub = need_vector, ['until'] = v_until })
if not P.dry and v_until > now then
  redis.call('HSET', KEYS[8], P.mid, verdict)
  redis.call('ZADD', KEYS[9], v_until, P.mid)
  redis.call('PEXPIRE', KEYS[8], P.vwin_ms + 60000)
  redis.call('PEXPIRE', KEYS[9], P.vwin_ms + 60000)
end
return { verdict, (need_vector and user_raw) or '', 0 }
