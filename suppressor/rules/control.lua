-- the randomized control: a share of would-be sends is withheld (the draw is fixed per customer and
-- message, so a retry and a what-if replay agree); deferred messages are not sends yet
local function rule_control()
  local share = P.incrementality.control_share
  if share <= 0 or (D.action ~= 'send' and D.action ~= 'reroute') then return end
  if P.control_draw < share then
    fire({ code = 'control', share = share, channel = D.channel })
    stop('suppress')
  end
end
