-- what the customer's vehicles make relevant whatever the score: service due soon, an old car
-- and a trade-in offer (the lifecycle section's knobs)
local function lifecycle_fit()
  local L = P.lifecycle
  if kind == 'service' and L.service_due_within_ms > 0 and svc_due and svc_due - now <= L.service_due_within_ms then
    return { code = 'service_due', days = (svc_due - now) / 86400000 }
  end
  if kind == 'sales' and L.trade_in_age_years > 0 and veh_born and now - veh_born >= L.trade_in_age_years * 31557600000 then
    for _, t in ipairs(P.topics) do
      for _, w in ipairs(L.trade_in_topics) do
        if t == w then return { code = 'trade_in_age', years = (now - veh_born) / 31557600000, topic = t } end
      end
    end
  end
end

-- relevance on the chosen channel (the threshold may depend on the lead stage)
local function rule_relevance()
  local th = P.relevance_threshold
  local by_stage = stage and P.thresholds_by_stage[stage]
  if by_stage then th = by_stage end
  if P.model == '' then
    fire({ code = 'no_model' })
  elseif score(D.channel) == nil then
    fire({ code = 'unknown_message' })
  else
    if not user then fire({ code = 'new_customer' }) end
    local s = score(D.channel)
    local r = { channel = D.channel, score = s, threshold = th, stage = by_stage and stage or nil }
    local fit = s < th and lifecycle_fit()
    if fit then
      fit.channel, fit.score, fit.threshold = D.channel, s, th
      fire(fit)
    elseif s < th then
      r.code = 'irrelevant'
      fire(r)
      stop('suppress')
    else
      r.code = 'relevant'
      fire(r)
    end
  end
end
