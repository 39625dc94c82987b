-- frequency caps: every cap that is full fires; any one blocks. A cap's reserved last slots
-- (reserve.slots) go only to a priority of reserve.min_priority or more.
local function rule_caps()
  local priority = P.priority or P.priorities[kind]
  for _, cap in ipairs(P.caps) do
    if (cap.channel == 'any' or cap.channel == D.channel) and (cap.kind == nil or cap.kind == kind) then
      local n = counts(cap.channel, cap.kind, now - cap.window_ms)
      local keep = cap.reserve
      if n >= cap.max then
        fire({ code = 'frequency_cap', channel = cap.channel, kind = cap.kind, count = n, max = cap.max,
               window_ms = cap.window_ms })
        stop('suppress')
      elseif keep and priority < keep.min_priority and n >= cap.max - keep.slots then
        fire({ code = 'reserved', channel = cap.channel, kind = cap.kind, count = n, max = cap.max,
               window_ms = cap.window_ms, slots = keep.slots, min_priority = keep.min_priority, priority = priority })
        stop('suppress')
      end
    end
  end
end
