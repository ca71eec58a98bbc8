-- Compare-and-set of an agent's state. Only claim/answer/requeue/end_call move an agent into or
-- out of reserved/on_call, unless the caller lists those states in `expect` (a repair).
-- KEYS[1] agent hash, KEYS[2] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] agent id, ARGV[4] new state (never reserved or
-- on_call: store.py checks), ARGV[5] reason, ARGV[6] expected current states, comma-separated
-- ('' = any state except reserved/on_call)
-- Returns the agent's HGETALL, or nil if it does not exist or its state is not expected.
-- Same state and reason again: no change, no event, the agent is returned.
local cur = redis.call('HMGET', KEYS[1], 'state', 'reason')
if not cur[1] then return false end
if ARGV[6] == '' then
  if busy(cur[1]) then return false end
else
  local expected = false
  for s in string.gmatch(ARGV[6], '[^,]+') do
    if s == cur[1] then expected = true end
  end
  if not expected then return false end
end
if cur[1] == ARGV[4] and cur[2] == ARGV[5] then return redis.call('HGETALL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'reason', ARGV[5], 'state_since', ARGV[1],
           'call_id', '', 'leg_id', '')
if ARGV[4] == 'ready' and cur[1] ~= 'ready' then
  redis.call('HSET', KEYS[1], 'ready_since', ARGV[1])
end
emit(KEYS[2], ARGV[2], 'agent_state_changed', '', ARGV[3], ARGV[1],
     {'from_state', cur[1], 'state', ARGV[4], 'reason', ARGV[5]})
return redis.call('HGETALL', KEYS[1])
