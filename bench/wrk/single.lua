-- wrk script: POST a new decision per request for one of CUSTOMERS loaded customers (c-000000 ..),
-- rotating channels and kinds; DELAY_MS (optional) paces each connection. Prints one RESULT line:
-- requests, non-200 answers, replayed verdicts (must be 0: every id is new), p50 and p99 latency (ms).
-- A message id is RUN (one per wrk run), the thread and a count: never asked before.
local n, key, customers = 0, os.getenv("KEY"), tonumber(os.getenv("CUSTOMERS") or "1000")
local run = os.getenv("RUN") or tostring(os.time())
local pause = tonumber(os.getenv("DELAY_MS") or "0")
local channels = { "email", "sms", "push", "direct_mail" }
local kinds = { "sales", "value", "service" }
local topics = { '["segment:suv","offer:lease"]', '["content:safety-clinic"]', '["service:oil"]', '["segment:truck"]' }
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("me", #threads)
end

function init(args)
  math.randomseed(os.time() + me)
  bad = 0
  replayed = 0
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. (key or "none")
end

function delay() return pause end

function request()
  n = n + 1
  local c = math.random(0, customers - 1)
  return wrk.format("POST", "/v1/decisions", nil, string.format(
    '{"customer_id":"c-%06d","message":{"message_id":"m-%s-%d-%d","channel":"%s","kind":"%s","topics":%s}}',
    c, run, me, n, channels[n % 4 + 1], kinds[n % 3 + 1], topics[n % 4 + 1]))
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
  if body and string.find(body, '"replayed":true', 1, true) then replayed = replayed + 1 end
end

function done(summary, latency, requests)
  local b, r = 0, 0
  for _, t in ipairs(threads) do b = b + t:get("bad"); r = r + t:get("replayed") end
  io.write(string.format("RESULT %d %d %d %.3f %.3f\n", summary.requests, b, r, latency:percentile(50) / 1000,
                         latency:percentile(99) / 1000))
end
