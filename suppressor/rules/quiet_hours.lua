-- quiet hours in the customer's time zone (customers without one are not held)
local function rule_quiet_hours()
  local Q = P.quiet_hours
  if not (Q.enabled and prof[5]) then return end
  local applies = Q.channels == nil
  if not applies then
    for _, ch in ipairs(Q.channels) do if ch == D.channel then applies = true end end
  end
  if not applies then return end
  local local_min = math.floor(((now / 1000 + utc_offset(now)) % 86400) / 60)
  local s, e = Q.start_min, Q.end_min
  if (s < e and local_min >= s and local_min < e) or (s > e and (local_min >= s or local_min < e)) then
    fire({ code = 'quiet_hours', local_min = local_min, start = s, ['end'] = e })
    defer_to((math.floor(now / 60000) + (e - local_min) % 1440) * 60000)
  end
end
