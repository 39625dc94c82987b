-- One pre-send verdict, atomically, on the customer's slot.
-- KEYS[1] profile hash, KEYS[2] vectors hash
-- ARGV[1] model version ('' = none), ARGV[2] dim, ARGV[3..4] calibration a, b,
-- ARGV[5] relevance threshold, ARGV[6] requested channel, ARGV[7] allow reroute (1/0),
-- ARGV[8] relevance exempt (1/0), ARGV[9] opt-in-required channels (comma list),
-- ARGV[10] reserved, then pairs: candidate channel, packed float32 item vector ('' = unknown)
-- Returns JSON {action, channel, scores, reasons, cold}.
local version, dim = ARGV[1], tonumber(ARGV[2])
local a, b, threshold = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local requested, allow_reroute, exempt = ARGV[6], ARGV[7] == '1', ARGV[8] == '1'

local prof = redis.call('HMGET', KEYS[1], 'consent', 'preferred_channel')
local consent = {}
if prof[1] then consent = cjson.decode(prof[1]) end
local preferred = prof[2]

local opt_in = {}
for ch in string.gmatch(ARGV[9], '[^,]+') do opt_in[ch] = true end
local function allowed(ch)
  local c = consent[ch]
  if c == true then return true end
  if c == false then return false end
  return not opt_in[ch]
end

local fmt = '<' .. string.rep('f', dim + 1)
local user = nil
if version ~= '' then
  local packed = redis.call('HGET', KEYS[2], version)
  if packed then user = { struct.unpack(fmt, packed) } end
end

-- channels are scored lazily: only the requested one and possible reroute targets
local scores, candidates, items = {}, {}, {}
for i = 11, #ARGV, 2 do
  candidates[#candidates + 1] = ARGV[i]
  items[ARGV[i]] = ARGV[i + 1]
end
local function score(ch)
  if scores[ch] ~= nil or version == '' or not items[ch] or items[ch] == '' then return scores[ch] end
  local item = { struct.unpack(fmt, items[ch]) }
  local raw = item[dim + 1]
  if user then
    raw = raw + user[dim + 1]
    for k = 1, dim do raw = raw + user[k] * item[k] end
  end
  scores[ch] = 1 / (1 + math.exp(-(a * raw + b)))
  return scores[ch]
end

score(requested)  -- always reported, even when consent stops the send
local reasons = {}
local action, channel = 'send', requested

if not allowed(requested) then
  local state = (consent[requested] == false) and 'opted_out' or 'no_opt_in'
  local best, best_score = nil, -1
  if allow_reroute then
    for _, ch in ipairs(candidates) do
      -- reroute only where the customer said yes (or told us their preferred channel)
      if ch ~= requested and allowed(ch) and (consent[ch] == true or ch == preferred) then
        local s = score(ch) or 0
        if ch == preferred then s = s + 2 end
        if s > best_score then best, best_score = ch, s end
      end
    end
  end
  if best then
    action, channel = 'reroute', best
    reasons[#reasons + 1] = { code = 'consent', channel = requested, state = state, to = best }
  else
    action, channel = 'suppress', cjson.null
    reasons[#reasons + 1] = { code = 'consent', channel = requested, state = state,
                              reroute = allow_reroute and 'no_consented_channel' or 'not_allowed' }
  end
end

if action ~= 'suppress' then
  if exempt then
    reasons[#reasons + 1] = { code = 'transactional' }
  elseif version == '' then
    reasons[#reasons + 1] = { code = 'no_model' }
  elseif score(channel) == nil then
    reasons[#reasons + 1] = { code = 'unknown_message' }
  else
    if not user then reasons[#reasons + 1] = { code = 'new_customer' } end
    local s = scores[channel]
    if s < threshold then
      reasons[#reasons + 1] = { code = 'irrelevant', channel = channel, score = s, threshold = threshold }
      action, channel = 'suppress', cjson.null
    else
      reasons[#reasons + 1] = { code = 'relevant', channel = channel, score = s, threshold = threshold }
    end
  end
end

return cjson.encode({ action = action, channel = channel, scores = scores, reasons = reasons })
