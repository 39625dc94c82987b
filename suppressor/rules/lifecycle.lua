-- lifecycle gates: no sales asks after a purchase or while a service order is open
local function rule_lifecycle()
  if kind ~= 'sales' then return end
  local L = P.lifecycle
  local st = redis.call('HGET', KEYS[5], 'last_purchase')
  if st and now - tonumber(st) < L.post_purchase_quiet_ms then
    fire({ code = 'lifecycle', gate = 'post_purchase', days = (now - tonumber(st)) / 86400000,
           quiet_days = L.post_purchase_quiet_ms / 86400000 })
    stop('suppress')
  elseif svc_open and L.block_sales_while_service_open then
    fire({ code = 'lifecycle', gate = 'service_open' })
    stop('suppress')
  end
end
