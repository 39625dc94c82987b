-- Shared by decide.lua and household.lua (storage.store.script_source puts it in front of both).
-- True when `terms` beat `prev` on some term the policy compares (`better`: term -> 'lower' or
-- 'higher') and are no worse on any other; a term it cannot compare is not "better".
local function strictly_better(terms, prev, better)
  local ok, any = true, false
  for term, dir in pairs(better) do
    local a, b = terms[term], prev[term]
    if type(a) == 'number' and type(b) == 'number' then
      if (dir == 'lower' and a < b) or (dir == 'higher' and a > b) then any = true
      elseif a ~= b then ok = false end
    end
  end
  for term, v in pairs(terms) do
    if better[term] == nil and prev[term] ~= v then ok = false end
  end
  return ok and any
end
