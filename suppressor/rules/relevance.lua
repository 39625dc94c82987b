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

-- relevance on the chosen channel, by the policy's objective: the chance of engagement (its threshold may
-- depend on the lead stage), what sending adds to the chance of an outcome (uplift), or what it is worth
-- (value); without an uplift for the message, by engagement
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
    local objective, u = P.objective, nil
    if objective ~= 'engagement' then
      u = lift(D.channel)
      if not u then
        fire({ code = 'no_uplift', channel = D.channel,
               why = U.absent ~= '' and U.absent or "the uplift knows none of this message's features" })
        objective = 'engagement'
      elseif objective == 'value' and U.rpo <= 0 then  -- nothing to weigh an outcome by yet
        fire({ code = 'no_revenue', channel = D.channel, threshold = P.uplift_threshold })
        objective = 'uplift'
      end
    end
    local r, ok = { channel = D.channel }, nil
    if objective == 'engagement' then
      r.score, r.threshold, r.stage = s, th, by_stage and stage or nil
      ok = s >= th
    else
      r.with, r.without, r.uplift = u.with, u.without, u.uplift
      if objective == 'uplift' then
        r.threshold = P.uplift_threshold
        ok = u.uplift >= r.threshold
      else  -- value: what the send adds in revenue, less what an unsubscribe it causes costs
        local cost = P.unsubscribe_cost
        if cost < 0 then cost = U.rpc end  -- unset: the customer's worth as the tenant measured it
        r.harm, r.cost, r.rpo, r.currency, r.threshold = u.harm, cost, U.rpo, P.currency, P.value_threshold
        r.value = u.uplift * U.rpo - u.harm * cost
        D.value = r.value
        ok = r.value >= r.threshold
      end
    end
    local fit = not ok and lifecycle_fit()
    if fit then  -- it says what it overrode: the score, the uplift or the value against its threshold
      for k, v in pairs(r) do fit[k] = v end
      fit.objective = objective
      fire(fit)
    else
      if objective == 'engagement' then
        if ok then r.code = 'relevant' else r.code = 'irrelevant' end
      elseif objective == 'uplift' then
        if ok then r.code = 'adds' else r.code = 'adds_little' end
      else
        if ok then r.code = 'worth' else r.code = 'not_worth' end
      end
      fire(r)
      if not ok then stop('suppress') end
    end
  end
end
