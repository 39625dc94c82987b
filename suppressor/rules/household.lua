-- the household's word: live, lua/household.lua gives it after these rules (on the household's
-- slot); a replay hands over the word the household gave when the decision was logged
local function rule_household()
  if P.household_said then
    fire(P.household_said)
    stop('suppress')
  end
end
