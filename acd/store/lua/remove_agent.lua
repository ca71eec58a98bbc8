-- Agent gone from configuration: delete it, unless it is busy (reserved or on_call).
-- Given a time, its time in the state it leaves is counted (agent interval hash only: the
-- wrap-up of a removed agent is not charged to a queue).
-- KEYS[1] agent hash, KEYS[2] agent id set, KEYS[3] events stream,
-- KEYS[4] the agent's interval hash (interval of now)
-- ARGV[1] now ('' = unknown: nothing counted), ARGV[2] events maxlen, ARGV[3] agent id,
-- ARGV[4] interval hash TTL (s)
-- Returns 1 removed, 0 it did not exist, -1 busy (nothing changed).
local cur = redis.call('HMGET', KEYS[1], 'state', 'state_since')
local state = cur[1]
if not state then
  redis.call('SREM', KEYS[2], ARGV[3])
  return 0
end
if busy(state) then return -1 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[3])
emit(KEYS[3], ARGV[2], 'agent_removed', '', ARGV[3], ARGV[1], {'from_state', state})
if ARGV[1] ~= '' then agent_left(KEYS[4], ARGV[4], state, cur[2], ARGV[1]) end
return 1
