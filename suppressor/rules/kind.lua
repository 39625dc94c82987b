-- the kinds of message the policy (for this stage) sends at all
local function rule_kind()
  for _, k in ipairs(P.allowed_kinds) do if k == kind then return end end
  fire({ code = 'kind_not_allowed', kind = kind, stage = S and stage or nil })
  stop('suppress')
end
