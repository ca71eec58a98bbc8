-- Shared helpers: store.py prepends this file to every script (it is not a script itself).
-- Convention for every script: ARGV[1] = now (float string, stored verbatim),
-- ARGV[2] = MAXLEN of the events stream, optionally followed by a space and the writer's
-- origin tag. The events stream is the last KEYS entry of the state keys; scripts that count
-- statistics take their statistics keys after it (see below).

-- Append one event. `extra` is a flat list of field, value. With an origin tag in `maxlen`,
-- the event ends with a `by` field holding it: an instance knows its own events by it.
local function emit(stream, maxlen, etype, call_id, agent_id, at, extra)
  local cap, by = string.match(maxlen, '^(%S+) ?(.*)$')
  local args = {'XADD', stream, 'MAXLEN', '~', cap, '*',
                'type', etype, 'call', call_id, 'agent', agent_id, 'at', at}
  for i = 1, #extra do args[#args + 1] = extra[i] end
  if by ~= '' then
    args[#args + 1] = 'by'
    args[#args + 1] = by
  end
  return redis.call(unpack(args))
end

-- Queue order: higher priority first, then earlier entry. Whole milliseconds keep the score an
-- exact integer in a double while |priority| <= 900 (store.py checks). Recomputed, not stored,
-- so a requeued call gets exactly its old score back.
local function queue_score(priority, entered_at)
  return -tonumber(priority) * 1e13 + math.floor(tonumber(entered_at) * 1000 + 0.5)
end

-- HSET key f1 v1 f2 v2 ... from a Lua list.
local function hset(key, flat)
  if #flat == 0 then return 0 end
  local args = {'HSET', key}
  for i = 1, #flat do args[#args + 1] = flat[i] end
  return redis.call(unpack(args))
end

-- ARGV[from..#ARGV] as a list.
local function argv_from(from)
  local out = {}
  for i = from, #ARGV do out[#out + 1] = ARGV[i] end
  return out
end

local function busy(agent_state)
  return agent_state == 'reserved' or agent_state == 'on_call'
end

-- --- statistics: counted by the script that makes the state change, so a refused or replayed
-- step counts nothing. Statistics KEYS come after the events stream.

-- A float as text that reads back as the same double (tostring keeps only 14 digits).
local function fmt(x)
  return string.format('%.17g', x)
end

-- Seconds from `since` (a stored float string) to `now`; 0 if unknown, unset or negative.
local function elapsed(since, now)
  local s = tonumber(since or '')
  if s == nil or s <= 0 then return 0 end
  local d = tonumber(now) - s
  if d < 0 then return 0 end
  return d
end

-- Exactly acd.stats.raw.wait_bucket: ceil(seconds), capped at WAIT_CAP_S.
local WAIT_CAP_S = 3600
local function wait_bucket(w)
  local whole
  if w >= 0 then whole = math.floor(w) else whole = math.ceil(w) end
  local bucket = whole
  if whole ~= w then bucket = whole + 1 end
  return math.max(0, math.min(bucket, WAIT_CAP_S))
end

-- Add to an interval hash and (re)arm its expiry: `ints` and `floats` are flat lists of
-- field, amount (integer fields take HINCRBY, float fields HINCRBYFLOAT).
local function count(key, ttl, ints, floats)
  for i = 1, #ints, 2 do redis.call('HINCRBY', key, ints[i], ints[i + 1]) end
  for i = 1, #floats, 2 do redis.call('HINCRBYFLOAT', key, floats[i], fmt(floats[i + 1])) end
  redis.call('EXPIRE', key, ttl)
end

-- Add a fact to a queue's recent-facts zset (score = now), dropping facts older than `keep`.
local function recent(key, now, keep, member)
  redis.call('ZADD', key, now, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. fmt(tonumber(now) - tonumber(keep)))
  redis.call('EXPIRE', key, keep)
end

-- The AgentCounts field that collects the time spent in an agent state.
local AGENT_TIME = {ready = 'ready_s', not_ready = 'not_ready_s', reserved = 'ringing_s',
                    on_call = 'talk_s', wrap_up = 'wrapup_s'}

-- An agent leaves `state`, entered at `since`: the whole time goes to the interval hash `key`
-- of now. Returns the seconds counted.
local function agent_left(key, ttl, state, since, now)
  local field = AGENT_TIME[state or '']
  local d = elapsed(since, now)
  if field == nil or d <= 0 then return 0 end
  redis.call('HINCRBYFLOAT', key, field, fmt(d))
  redis.call('EXPIRE', key, ttl)
  return d
end

-- A call leaves the IVR by `exit`: every node of its path reached (once per call), and it left
-- at the last one. `path_json` is the stored ivr_path.
local function funnel_exit(key, ttl, path_json, exit)
  local ok, path = pcall(cjson.decode, path_json or '[]')
  if not ok or type(path) ~= 'table' or #path == 0 then return end
  local seen = {}
  for _, node in ipairs(path) do
    node = tostring(node)
    if not seen[node] then
      seen[node] = true
      redis.call('HINCRBY', key, 'r:' .. node, 1)
    end
  end
  redis.call('HINCRBY', key, 'l:' .. tostring(path[#path]) .. ':' .. exit, 1)
  redis.call('EXPIRE', key, ttl)
end
