-- consent: the channel's (transactional messages honor it unless the policy says otherwise), then
-- the topics the customer unsubscribed from
local function rule_consent()
  if not (P.is_transactional and not P.transactional.honor_consent) and not allowed(requested) then
    local state = (consent[requested] == false) and 'opted_out' or 'no_opt_in'
    local best, best_s = nil, -1
    if P.allow_reroute then
      for _, ch in ipairs(candidates) do
        if ch ~= requested and reachable(ch) then
          local s = (score(ch) or 0) + ((ch == preferred) and 2 or 0)
          if s > best_s then best, best_s = ch, s end
        end
      end
    end
    if best then
      D.action, D.channel = 'reroute', best
      fire({ code = 'consent', channel = requested, state = state, to = best })
    else
      fire({ code = 'consent', channel = requested, state = state,
             reroute = P.allow_reroute and 'no_consented_channel' or 'not_allowed' })
      stop('suppress')
      return
    end
  end
  if P.is_transactional then return end
  if #P.topics == 0 then return end
  local blocked = redis.call('SMISMEMBER', KEYS[7], unpack(P.topics))  -- one read for every topic
  for i, t in ipairs(P.topics) do
    if blocked[i] == 1 then
      fire({ code = 'consent', topic = t })
      stop('suppress')
      return
    end
  end
end
