-- Replays one customer's logged decisions, and the behavior that followed them, under several
-- policies. store.py prepends the production scripts as `decide` and `ingest` functions (the
-- same text, so a replay and a live decision cannot disagree); they run on scratch copies in
-- the customer's slot. Production keys are only read; the scratch keys are gone on return.
-- KEYS: 1 profile, 2 vectors, 3 sends ledger, 4 offers, 5 blocked topics (production, read only)
--       then the base scratch and the work scratch copies, one key per NAMES entry each
-- ARGV[1]: header JSON {ns, max, ttl, t0, pre, first, sidx, restore, unblock}
--   ns statics; max/ttl for ingest; t0 (ms) starts the replay; the first `pre` items are older
--   behavior (state before t0); this call runs policies first+1 .. first+#sidx of the holds
--   flags; sidx[k][campaign] = static of its k-th policy ("" = tenant policy);
--   restore = channels whose consent a stored event revoked; unblock = topics events blocked
-- ARGV[2 .. 1+ns]: the policy-fixed decide parameters (JSON)
-- ARGV[2+ns]: the timeline, one line per item in time order: "e\tevent_id\tts\tmessage_id\tchannel" or "d"
-- ARGV[3+ns]: the stored JSON of each event, one per line (JSON text never holds a raw newline)
-- then per decision: request JSON (+ holds, cmp, mid), n, n pairs of channel, packed item vector
-- Returns, per policy, the verdict JSON of each decision in order.
local H = cjson.decode(ARGV[1])
local statics = {}
for s = 1, H.ns do statics[s] = cjson.decode(ARGV[1 + s]) end
local NAMES = { 'profile', 'state', 'pending', 'blocked', 'ev', 'evt', 'sends', 'offers', 'verdicts', 'vexp' }
local base, work = {}, {}
for n, name in ipairs(NAMES) do base[name], work[name] = KEYS[5 + n], KEYS[5 + #NAMES + n] end

local bodies = {}
for line in string.gmatch(ARGV[3 + H.ns], '[^\n]+') do bodies[#bodies + 1] = line end
local items, nb, i = {}, 0, 4 + H.ns
for line in string.gmatch(ARGV[2 + H.ns], '[^\n]+') do
  if line == 'd' then
    local n = tonumber(ARGV[i + 1])
    local argv = { false }
    for j = 1, 2 * n do argv[j + 1] = ARGV[i + 1 + j] end
    items[#items + 1] = { d = cjson.decode(ARGV[i]), argv = argv }
    i = i + 2 + 2 * n
  else
    local eid, ts, mid, ch = string.match(line, '^e\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$')
    nb = nb + 1
    items[#items + 1] = { eid = eid, ts = ts, mid = mid, ch = ch, body = bodies[nb], type = cjson.decode(bodies[nb]).type }
  end
end

local scratch = {}
for n = 6, 5 + 2 * #NAMES do scratch[#scratch + 1] = KEYS[n] end
redis.call('DEL', unpack(scratch))

-- production ingests events in batches; so does the replay: consecutive events in one call
local function into(k, evs)
  if #evs == 0 then return 0 end
  local argv = { H.max, H.ttl, #evs }
  for _, e in ipairs(evs) do
    local n = #argv
    argv[n + 1], argv[n + 2], argv[n + 3] = e.eid, e.ts, e.type  -- decoded once, not once per policy
    argv[n + 4], argv[n + 5], argv[n + 6] = e.ch, e.mid, e.body
  end
  return ingest({ k.ev, k.evt, k.profile, k.state, k.pending, k.blocked }, argv)
end

-- the customer as of t0: profile and topic blocks before any stored behavior, then that behavior
redis.call('COPY', KEYS[1], base.profile)
if #H.restore > 0 then
  local raw = redis.call('HGET', base.profile, 'consent')
  local consent = raw and cjson.decode(raw) or {}
  for _, ch in ipairs(H.restore) do consent[ch] = true end
  redis.call('HSET', base.profile, 'consent', cjson.encode(consent))
end
redis.call('COPY', KEYS[5], base.blocked)
if #H.unblock > 0 then redis.call('SREM', base.blocked, unpack(H.unblock)) end
local older = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. H.t0, 'WITHSCORES')
for j = 1, #older, 2 do redis.call('ZADD', base.sends, older[j + 1], older[j]) end
local offers = redis.call('HGETALL', KEYS[4])
for j = 1, #offers, 2 do
  if cjson.decode(offers[j + 1]).at < H.t0 then redis.call('HSET', base.offers, offers[j], offers[j + 1]) end
end
local older_events = {}
for j = 1, H.pre do older_events[j] = items[j] end
into(base, older_events)

local results = {}
for k = 1, #H.sidx do
  for _, name in ipairs(NAMES) do
    if redis.call('COPY', base[name], work[name], 'REPLACE') == 0 then redis.call('DEL', work[name]) end
  end
  local sidx = H.sidx[k]
  local replayed, sent, out = {}, {}, {}
  local dkeys = { work.profile, KEYS[2], work.sends, work.offers, work.state, work.pending, work.blocked,
                  work.verdicts, work.vexp }
  local batch = {}
  for j = H.pre + 1, #items do
    local it = items[j]
    if it.d then
      into(work, batch)
      batch = {}
      local P = it.d
      P.holdout = string.sub(P.holds, H.first + k, H.first + k) == '1'
      setmetatable(P, { __index = statics[sidx[P.cmp] or sidx['']] })
      it.argv[1] = P
      local verdict = decide(dkeys, it.argv)[1]
      out[#out + 1] = verdict
      replayed[P.mid] = true
      local v = cjson.decode(verdict)
      if v.action == 'send' or v.action == 'reroute' then sent[P.mid] = v.channel end
    else
      -- behavior about a message this policy did not send (or sent elsewhere) did not happen
      local to = sent[it.mid]
      if not (it.mid ~= '' and replayed[it.mid] and (to == nil or (it.ch ~= '' and it.ch ~= to))) then
        batch[#batch + 1] = it
      end
    end
  end
  results[k] = out
end
redis.call('DEL', unpack(scratch))
return results
