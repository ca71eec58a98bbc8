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

-- --- call reasons (issue 9): counted in the queue's own interval hash, as fields
-- 'r:<reason>:<field>' ('(none)' for a call without a reason; reason names never hold ':'),
-- so the script of the state change counts them with no key of its own.
local function rf(reason, field)
  -- (HMGET gives false for a missing field: a call stored without a reason)
  if not reason or reason == '' then reason = '(none)' end
  return 'r:' .. reason .. ':' .. field
end

-- A JSON list of strings (an agent's wrap_codes); anything unreadable is empty.
local function str_list(json)
  local ok, value = pcall(cjson.decode, json or '[]')
  if not ok or type(value) ~= 'table' then return {} end
  local out = {}
  for _, v in ipairs(value) do out[#out + 1] = tostring(v) end
  return out
end

-- Append `item` to the JSON list kept in field `field` of hash `key` (if the hash exists).
local function append_json(key, field, item)
  if redis.call('EXISTS', key) == 0 then return end
  local ok, list = pcall(cjson.decode, redis.call('HGET', key, field) or '[]')
  if not ok or type(list) ~= 'table' then list = {} end
  list[#list + 1] = item
  redis.call('HSET', key, field, cjson.encode(list))
end

-- The wrap-up fields an agent carries while it wraps up a call, cleared when it ends.
local WRAP_CLEAR = {'wrap_call', '', 'wrap_codes', '[]', 'wrap_resolved', '', 'wrap_final', '',
                    'wrap_reason', ''}

-- An agent's wrap-up of `wrap_call` ends (any new state): the codes given (else 'none') and,
-- for the agent who ended the call (`final` '1'), its resolved answer are counted once, in the
-- interval hash `qkey` of the agent's last queue ('' = none) and per reason; the wrap-up is
-- appended to the call's `wrapups` (`call_key` nil: not), and a 'call_wrapped' event says it.
-- w = {call, codes (JSON), resolved ('1'/'0'/''), final, reason, queue}
local function wrap_end(w, agent_id, now, spent, call_key, events, maxlen, qkey, ttl)
  local codes = str_list(w.codes)
  if #codes == 0 then codes = {'none'} end
  if w.queue ~= '' then
    local ints = {}
    for _, c in ipairs(codes) do
      ints[#ints + 1] = 'code:' .. c
      ints[#ints + 1] = 1
      ints[#ints + 1] = rf(w.reason, 'code:' .. c)
      ints[#ints + 1] = 1
    end
    if w.final == '1' and w.resolved ~= '' then
      local field = 'unresolved'
      if w.resolved == '1' then field = 'resolved' end
      ints[#ints + 1] = field
      ints[#ints + 1] = 1
      ints[#ints + 1] = rf(w.reason, field)
      ints[#ints + 1] = 1
    end
    count(qkey, ttl, ints, {})
  end
  local resolved = cjson.null
  if w.resolved == '1' then resolved = true elseif w.resolved == '0' then resolved = false end
  if call_key ~= nil then
    append_json(call_key, 'wrapups', {agent = agent_id, codes = codes, resolved = resolved,
                                      final = w.final == '1', ended_at = now,
                                      wrapup_s = fmt(spent)})
  end
  emit(events, maxlen, 'call_wrapped', w.call, agent_id, now,
       {'codes', cjson.encode(codes), 'resolved', w.resolved, 'final', w.final,
        'wrapup_s', fmt(spent), 'queue', w.queue, 'reason', w.reason})
end

-- --- transfers (issue 9) -------------------------------------------------------------------

-- A conversation ends in a transfer: its agent (on_call with the call, or nothing changes)
-- goes to wrap_up carrying the call (wrap_final '0': the call goes on without it), or to ready
-- without wrap-up. Counts: the agent's talk_s and handled; the source queue's interval hash
-- `qkey` and recent facts `rkey`: transferred, handled and the talk (per reason too, and the
-- reason's `transferred` once per call: `first` is true at the call's first transfer).
-- Returns the agent's new state ('' when the agent was not on the call).
local function transfer_out(akey, aikey, call_id, reason, first, wraps, talk, now, ttl, qkey,
                            rkey, keep)
  local agent = redis.call('HMGET', akey, 'state', 'call_id', 'state_since')
  local agent_state = ''
  if agent[1] == 'on_call' and agent[2] == call_id then
    agent_state = 'ready'
    if wraps == '1' then agent_state = 'wrap_up' end
    redis.call('HSET', akey, 'state', agent_state, 'reason', '', 'state_since', now,
               'call_id', '', 'leg_id', '', unpack(WRAP_CLEAR))
    if agent_state == 'ready' then
      redis.call('HSET', akey, 'ready_since', now)
    else
      redis.call('HSET', akey, 'wrap_call', call_id, 'wrap_final', '0', 'wrap_reason', reason)
    end
    agent_left(aikey, ttl, 'on_call', agent[3], now)
    count(aikey, ttl, {'handled', 1}, {})
  end
  local ints = {'transferred', 1, 'handled', 1}
  if first then
    ints[#ints + 1] = rf(reason, 'transferred')
    ints[#ints + 1] = 1
  end
  count(qkey, ttl, ints, {'talk_sum_s', talk, rf(reason, 'talk_sum_s'), talk})
  recent(rkey, now, keep, 'y|' .. call_id .. '|' .. fmt(talk))
  return agent_state
end

-- One entry of a call's transfer history (its `transfers` JSON list).
local function transfer_entry(now, kind, from_queue, to_queue, from_agent, to_agent)
  return {at = now, kind = kind, from_queue = from_queue, to_queue = to_queue,
          from_agent = from_agent, to_agent = to_agent}
end

-- Take a call's lease (KEYS-style `key`) for `owner`, unless an instance that is alive holds
-- it: its holder's instance key (`instance_prefix` .. holder) exists. An instance whose key
-- lapsed is dead, and its calls are anyone's. Returns true when `owner` holds it now.
local function take_lease(key, owner, ttl_ms, instance_prefix)
  local holder = redis.call('GET', key)
  if holder and holder ~= owner and redis.call('EXISTS', instance_prefix .. holder) == 1 then
    return false
  end
  redis.call('SET', key, owner, 'PX', ttl_ms)
  return true
end
