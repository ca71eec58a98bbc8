-- A callback attempt did not reach the customer (the agent answered, the customer did not):
-- cb_attempts + 1; the agent, still reserved for the call, is ready again (its ringing time
-- counted). With a retry time the call waits out of its queue (state scheduled, retry_at) until
-- callback_due.lua puts it back at its place; without one it stays ringing for end_call
-- (outcome callback_failed), which the caller runs next.
-- KEYS[1] call hash, KEYS[2] zset of the call's queue (hint), KEYS[3] hash of the call's agent
-- (hint), KEYS[4] events stream, KEYS[5] the agent's interval hash of now
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] agent leg id, ARGV[5] hinted
-- queue, ARGV[6] hinted agent id, ARGV[7] the dial status, ARGV[8] retry time ('' = no retry),
-- ARGV[9] interval hash TTL (s)
-- Returns {'ok', call HGETALL, agent HGETALL (empty if unchanged)}; nil if the call is not a
-- callback ringing on that leg; {'stale'} if a hint was wrong.
local call = redis.call('HMGET', KEYS[1], 'state', 'leg_id', 'queue', 'agent_id', 'callback')
if call[1] ~= 'ringing' or call[2] ~= ARGV[4] or not call[5] or call[5] == '' then
  return false
end
if call[3] ~= ARGV[5] or call[4] ~= ARGV[6] then return {'stale'} end
local attempts = redis.call('HINCRBY', KEYS[1], 'cb_attempts', 1)
emit(KEYS[4], ARGV[2], 'callback_attempt_failed', ARGV[3], call[4], ARGV[1],
     {'queue', call[3], 'status', ARGV[7], 'attempt', attempts, 'retry_at', ARGV[8]})
if ARGV[8] == '' then
  return {'ok', redis.call('HGETALL', KEYS[1]), {}}
end
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'retry_at', ARGV[8], 'agent_id', '',
           'leg_id', '')
local agent = redis.call('HMGET', KEYS[3], 'state', 'call_id', 'state_since')
if agent[1] ~= 'reserved' or agent[2] ~= ARGV[3] then
  return {'ok', redis.call('HGETALL', KEYS[1]), {}}
end
redis.call('HSET', KEYS[3], 'state', 'ready', 'reason', '', 'state_since', ARGV[1],
           'ready_since', ARGV[1], 'call_id', '', 'leg_id', '')
agent_left(KEYS[5], ARGV[9], 'reserved', agent[3], ARGV[1])
return {'ok', redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[3])}
