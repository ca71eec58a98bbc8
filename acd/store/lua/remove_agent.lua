-- Agent gone from configuration: delete it, unless it is busy (reserved or on_call).
-- KEYS[1] agent hash, KEYS[2] agent id set, KEYS[3] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] agent id
-- Returns 1 removed, 0 it did not exist, -1 busy (nothing changed).
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('SREM', KEYS[2], ARGV[3])
  return 0
end
if busy(state) then return -1 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[3])
emit(KEYS[3], ARGV[2], 'agent_removed', '', ARGV[3], ARGV[1], {'from_state', state})
return 1
