-- send windows per channel and weekday in the customer's local time, and blackout dates (customers
-- without a time zone are not held, as for quiet hours)
local function weekday(d) return (d + 3) % 7 + 1 end  -- 1 = Monday; day 0 (1970-01-01) was a Thursday

-- the windows of channel ch, and the blackout dates as a set
local function send_windows_of(ch)
  local W = P.send_windows
  local mine, black = {}, {}
  for _, w in ipairs(W.windows) do
    if w.channel == 'any' or w.channel == ch then mine[#mine + 1] = w end
  end
  for _, d in ipairs(W.blackout_dates) do black[d] = true end
  return mine, black
end

local function opens_on(w, d)
  for _, x in ipairs(w.days) do if x == weekday(d) then return true end end
  return false
end

-- true when a send on ch may go out at ms (no windows and no blackouts: always)
local function window_open_at(ms, ch)
  local W = P.send_windows
  if not prof[5] or (#W.windows == 0 and #W.blackout_dates == 0) then return true end
  local mine, black = send_windows_of(ch)
  local t = ms / 1000 + utc_offset(ms)
  local day, minute = math.floor(t / 86400), math.floor((t % 86400) / 60)
  if black[day] then return false end
  if #mine == 0 then return true end
  for _, w in ipairs(mine) do
    if opens_on(w, day) and minute >= w.start_min and minute < w.end_min then return true end
  end
  return false
end

local function rule_send_windows()
  if window_open_at(now, D.channel) then return end
  local mine, black = send_windows_of(D.channel)
  local t = now / 1000 + utc_offset(now)
  local day, minute = math.floor(t / 86400), math.floor((t % 86400) / 60)
  -- closed: the next local minute a window opens (or a day that is not a blackout starts)
  local best = nil
  for k = 0, 31 do
    local d = day + k
    if not black[d] then
      if #mine == 0 then
        if k > 0 then best = d * 1440 end
      else
        for _, w in ipairs(mine) do
          if opens_on(w, d) and (k > 0 or w.start_min > minute) and (best == nil or d * 1440 + w.start_min < best) then
            best = d * 1440 + w.start_min
          end
        end
      end
    end
    if best then break end
  end
  local r = { code = 'send_window', channel = D.channel, local_min = minute, weekday = weekday(day),
              blackout = black[day] and day or nil, windows = (#mine > 0) and mine or nil }
  if best == nil then
    r.closed_days = 31
    fire(r)
    stop('suppress')
    return
  end
  -- local minutes to UTC, with the offset at that moment (a DST change may fall in between)
  local local_ms = best * 60000
  local at = local_ms - utc_offset(local_ms - utc_offset(now) * 1000) * 1000
  fire(r)
  defer_to(at)
end
