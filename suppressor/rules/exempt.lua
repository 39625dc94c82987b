-- transactional messages and holdout customers skip every rule after this one
local function rule_exempt()
  if P.is_transactional then
    fire({ code = 'transactional' })
    return 'exempt'
  elseif P.holdout then
    fire({ code = 'holdout', fraction = P.holdout_fraction })
    return 'exempt'
  end
end
