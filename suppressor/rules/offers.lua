-- one face to the customer: offer conflicts and duplicates across channels
local function rule_offers()
  if not (P.offers.enabled and P.offer) then return end
  local prev = redis.call('HGET', KEYS[4], P.offer.key)
  if not prev then return end
  prev = cjson.decode(prev)
  if prev['until'] <= now then return end
  local days = (now - prev.at) / 86400000
  if prev.tj == P.offer.terms_json then
    fire({ code = 'offer_conflict', key = P.offer.key, dup = true, prev_channel = prev.ch, days = days })
    stop('suppress')
    return
  end
  if not (P.offers.conflict == 'better_only' and strictly_better(P.offer.terms, prev.terms, P.offers.better)) then
    fire({ code = 'offer_conflict', key = P.offer.key, dup = false, prev_channel = prev.ch,
           prev_terms = prev.terms, mode = P.offers.conflict, days = days })
    stop('suppress')
  end
end
