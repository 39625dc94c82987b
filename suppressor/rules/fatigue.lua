-- fatigue: a streak of unanswered messages on the channel rests it
local function rule_fatigue()
  local F = P.fatigue
  if not F.enabled then return end
  local ch = D.channel
  local streak = tonumber(redis.call('HGET', KEYS[5], 'ign:' .. ch) or '0')
  local prefix = ch .. '|'
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now - F.unanswered_after_ms)) do
    if string.sub(m, 1, #prefix) == prefix then streak = streak + 1 end
  end
  if streak < F.ignore_streak then return end
  local last = last_send(ch)
  if last and now - last < F.cooldown_ms then
    fire({ code = 'fatigue', channel = ch, streak = streak, need = F.ignore_streak, cool_ms = F.cooldown_ms })
    defer_to(last + F.cooldown_ms)
  end
end
