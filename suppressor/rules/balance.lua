-- reciprocity: sales asks balanced by value (the suppressed ask gets a substitute)
local function rule_balance()
  local B = P.balance
  if not (B.enabled and kind == 'sales') then return end
  local since = now - B.window_ms
  local total, sales, value_after_last_sales = 0, 0, 0
  local last_sales_ts = nil
  for _, s in ipairs(sends()) do
    if s.ts > since then
      total = total + 1
      if s.kind == 'sales' then
        sales = sales + 1
        if last_sales_ts == nil or s.ts > last_sales_ts then last_sales_ts = s.ts end
      end
    end
  end
  if last_sales_ts then
    for _, s in ipairs(sends()) do
      if s.ts > last_sales_ts and s.kind ~= 'sales' then value_after_last_sales = value_after_last_sales + 1 end
    end
  end
  local share = (sales + 1) / (total + 1)
  if sales + 1 >= 2 and share > B.max_sales_share then
    fire({ code = 'sales_balance', share = share, max = B.max_sales_share, sales = sales + 1, total = total + 1,
           window_ms = B.window_ms })
  elseif last_sales_ts and value_after_last_sales < B.min_value_between_sales then
    fire({ code = 'sales_balance', between = value_after_last_sales, need = B.min_value_between_sales })
  else
    return
  end
  stop('suppress')
  D.need_vector = true
end
