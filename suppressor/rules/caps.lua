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
