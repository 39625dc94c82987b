-- wrk script: POST a new decision per request; counts degraded verdicts and 5xx per thread and
-- prints one RESULT line: requests, degraded, 5xx, share within DEADLINE_MS, p99 ms, socket errors.
local threads = {}
function setup(thread) table.insert(threads, thread) end

local n, key = 0, os.getenv("KEY")
function init(args)
  degraded, server_errors = 0, 0
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
  n = n + 1
  return wrk.format("POST", "/v1/decisions", nil, '{"customer_id":"c-' .. (n % 1000) .. '","message":{"message_id":"m-'
    .. tostring(math.random(1, 2^30)) .. '-' .. n .. '","channel":"email","kind":"value","topics":["x"]}}')
end

function response(status, headers, body)
  if status >= 500 then server_errors = server_errors + 1 end
  if string.find(body, '"degraded"', 1, true) then degraded = degraded + 1 end
end

function done(summary, latency, requests)
  local d, e = 0, 0
  for _, t in ipairs(threads) do d = d + t:get("degraded"); e = e + t:get("server_errors") end
  local limit = tonumber(os.getenv("DEADLINE_MS") or "250") * 1000
  local lo, hi = 0, 100
  for _ = 1, 40 do
    local mid = (lo + hi) / 2
    if latency:percentile(mid) <= limit then lo = mid else hi = mid end
  end
  if latency.max <= limit then lo = 100 end
  local errs = summary.errors
  io.write(string.format("RESULT %d %d %d %.2f %.1f %d\n", summary.requests, d, e, lo, latency:percentile(99) / 1000,
    errs.connect + errs.read + errs.write + errs.timeout))
end
