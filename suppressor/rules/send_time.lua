-- send time: a send asked for at an hour the customer rarely answers waits for their best hour
-- within `within` that quiet hours and send windows allow. The chances per hour of the week (local
-- time, Monday 00:00 first) are the customer's own, learned and pooled toward the tenant's curve at
-- training (vectors hash field 'hours'), or the tenant's curve alone (the model's send_hours)
local function rule_send_time()
  local T = P.send_time
  if not (T.optimize and prof[5]) or (D.action ~= 'send' and D.action ~= 'reroute') then return end
  if T.channels ~= nil then
    local applies = false
    for _, ch in ipairs(T.channels) do if ch == D.channel then applies = true end end
    if not applies then return end
  end
  local raw, curve, own = redis.call('HGET', KEYS[2], 'hours'), nil, true
  if raw and #raw == 168 * 4 then
    curve = { struct.unpack('<' .. string.rep('f', 168), raw) }
  elseif #P.send_hours == 168 then
    curve, own = P.send_hours, false
  else
    return  -- nothing learned: no made-up hour
  end
  local function bin(ms)  -- the local hour of the week at ms (1-based; weekday() is send_windows')
    local t = ms / 1000 + utc_offset(ms)
    return (weekday(math.floor(t / 86400)) - 1) * 24 + math.floor((t % 86400) / 3600) + 1,
      math.floor((t % 86400) / 60)
  end
  local here, here_min = bin(now)
  local floor = 1e-6  -- a bin nobody answered in is not infinitely worse
  local base = math.max(curve[here], floor)
  local best, best_at, best_min = nil, nil, nil
  local hour = math.floor(now / 3600000) * 3600000
  for k = 1, math.floor(T.within_ms / 3600000) do
    local at = hour + k * 3600000
    if not quiet_at(at, D.channel) and window_open_at(at, D.channel) then
      local b, m = bin(at)
      if best == nil or curve[b] > curve[best] then best, best_at, best_min = b, at, m end
    end
  end
  if best == nil or curve[best] / base < T.min_ratio then return end
  fire({ code = 'send_time', ratio = curve[best] / base, at_min = best_min, now_min = here_min,
         at_day = math.floor((best - 1) / 24) + 1, now_day = math.floor((here - 1) / 24) + 1, own = own,
         channel = D.channel })
  defer_to(best_at)
end
