-- quiet hours in the customer's time zone (customers without one are not held)
local function quiet_at(ms, ch)  -- the local minute of day when ms falls in quiet hours on ch, else nil
  local Q = P.quiet_hours
  if not (Q.enabled and prof[5]) then return nil end
  local applies = Q.channels == nil
  if not applies then
    for _, c in ipairs(Q.channels) do if c == ch then applies = true end end
  end
  if not applies then return nil end
  local local_min = math.floor(((ms / 1000 + utc_offset(ms)) % 86400) / 60)
  local s, e = Q.start_min, Q.end_min
  if (s < e and local_min >= s and local_min < e) or (s > e and (local_min >= s or local_min < e)) then
    return local_min
  end
  return nil
end

local function rule_quiet_hours()
  local local_min = quiet_at(now, D.channel)
  if local_min == nil then return end
  local Q = P.quiet_hours
  fire({ code = 'quiet_hours', local_min = local_min, start = Q.start_min, ['end'] = Q.end_min })
  defer_to((math.floor(now / 60000) + (Q.end_min - local_min) % 1440) * 60000)
end
