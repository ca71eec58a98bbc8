-- Shared helpers: store.py prepends this file to every script (it is not a script itself).
-- Convention for every script: ARGV[1] = now (float string, stored verbatim),
-- ARGV[2] = MAXLEN of the events stream. The last KEYS entry is the events stream.

-- Append one event. `extra` is a flat list of field, value.
local function emit(stream, maxlen, etype, call_id, agent_id, at, extra)
  local args = {'XADD', stream, 'MAXLEN', '~', maxlen, '*',
                'type', etype, 'call', call_id, 'agent', agent_id, 'at', at}
  for i = 1, #extra do args[#args + 1] = extra[i] end
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
