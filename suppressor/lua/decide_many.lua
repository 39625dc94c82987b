-- The decide script's entry: many decisions in one call, each by `decide` (lua/decide.lua, put in above
-- as a function by store.py, as a replay puts it in), in order, each seeing the ledgers the ones before
-- it wrote. A call's keys share a slot on a Redis Cluster, so there a call holds one decision.
-- The parameters fixed by a policy and a model (suppressor/decisions/decide.py `static_args`) come once
-- per call, not once per decision: decoding them is the costliest step of a decision, and a policy's
-- larger groups (LAZY, from the rule units) are decoded only when a rule first reads them.
-- ARGV[1]: ns, the number of statics; then per static: its JSON, then one JSON text per LAZY group;
-- then per decision: its static's index (1-based), its number of keys, its request parameters (JSON,
--   `request_params`), n, and n pairs of candidate channel, packed item vector ('' = unknown to the model)
-- KEYS: each decision's keys (storage/keys.py `decision_keys`), decision after decision.
-- Returns decide's answer for each decision, in order.
-- @lazy
local ns, i = tonumber(ARGV[1]), 2
local statics = {}
for s = 1, ns do
  local core, texts = cjson.decode(ARGV[i]), {}
  for n, name in ipairs(LAZY) do texts[name] = ARGV[i + n] end
  setmetatable(core, { __index = function(t, k)
    local text = texts[k]
    if text == nil then return nil end
    local v = cjson.decode(text)
    rawset(t, k, v)
    return v
  end })
  statics[s] = { __index = core }  -- a decision's parameters fall back to its static ones
  i = i + 1 + #LAZY
end
local out, first_key = {}, 0
while i <= #ARGV do
  local s, nk, n = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 3])
  local argv = { setmetatable(cjson.decode(ARGV[i + 2]), statics[s]) }
  for j = 1, 2 * n do argv[j + 1] = ARGV[i + 3 + j] end
  local ks = {}
  for j = 1, nk do ks[j] = KEYS[first_key + j] end
  out[#out + 1] = decide(ks, argv)
  first_key, i = first_key + nk, i + 4 + 2 * n
end
return out
