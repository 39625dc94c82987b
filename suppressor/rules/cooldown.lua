-- cool-down between any two sends
local function rule_cooldown()
  if P.min_gap_ms <= 0 then return end
  local last = last_send(nil)
  if last and now - last < P.min_gap_ms then
    fire({ code = 'cooldown', gap_ms = P.min_gap_ms, ago_ms = now - last })
    defer_to(last + P.min_gap_ms)
  end
end
