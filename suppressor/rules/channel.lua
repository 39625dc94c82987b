-- channel: the stated preference, then the learned affinity (when the caller allows a reroute)
local function rule_channel()
  if not P.allow_reroute then return end
  if preferred and preferred ~= D.channel and reachable(preferred) and items[preferred] then
    fire({ code = 'channel_preference', from = D.channel, to = preferred, stated = true })
    D.action, D.channel = 'reroute', preferred
  elseif P.channels.learned_reroute and P.model ~= '' and score(D.channel) then
    local base = score(D.channel)
    local best, best_s = nil, base + P.channels.margin
    for _, ch in ipairs(candidates) do
      if ch ~= D.channel and reachable(ch) then
        local s = score(ch)
        if s and s >= best_s then best, best_s = ch, s end
      end
    end
    if best then
      fire({ code = 'channel_preference', from = D.channel, to = best, score = best_s, was = base,
             margin = P.channels.margin })
      D.action, D.channel = 'reroute', best
    end
  end
end
