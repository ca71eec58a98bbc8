-- Agent gone from configuration: delete it, unless it is busy (reserved or on_call).
-- Given a time, its time in the state it leaves is counted (agent interval hash only: the
-- wrap-up of a removed agent is not charged to a queue).
-- KEYS[1] agent hash, KEYS[2] agent id set, KEYS[3] events stream,
-- KEYS[4] the agent's interval hash (interval of now)
-- ARGV[1] now ('' = unknown: nothing counted), ARGV[2] events maxlen, ARGV[3] agent id,
-- ARGV[4] interval hash TTL (s)
-- An agent removed while wrapping up a call ends that wrap-up (code 'none', not counted: the
-- call_wrapped event tells who keeps records).
-- Returns 1 removed, 0 it did not exist, -1 busy (nothing changed).
local cur = redis.call('HMGET', KEYS[1], 'state', 'state_since', 'wrap_call', 'wrap_final',
                       'wrap_reason', 'last_queue')
local state = cur[1]
if not state then
  redis.call('SREM', KEYS[2], ARGV[3])
  return 0
end
if busy(state) then return -1 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[3])
emit(KEYS[3], ARGV[2], 'agent_removed', '', ARGV[3], ARGV[1], {'from_state', state})
local spent = 0
if ARGV[1] ~= '' then spent = agent_left(KEYS[4], ARGV[4], state, cur[2], ARGV[1]) end
if state == 'wrap_up' and (cur[3] or '') ~= '' then
  wrap_end({call = cur[3], codes = '[]', resolved = '', final = cur[4] or '',
            reason = cur[5] or '', queue = ''}, ARGV[3], ARGV[1], spent, nil, KEYS[3],
           ARGV[2], nil, ARGV[4])
end
return 1
