-- Ring-no-answer: call ringing on that leg -> waiting again, with its old score (same priority
-- and entered_at, so it keeps its place), rona_count + 1. Its agent, if still reserved for it,
-- goes to the given state (never reserved/on_call: store.py checks). Counts the agent's ringing
-- time (ringing_s); the queue counts nothing (a requeue is not a new offer).
-- KEYS[1] call hash, KEYS[2] zset of the call's queue (hint), KEYS[3] agent hash (hint),
-- KEYS[4] events stream, KEYS[5] the agent's interval hash
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] agent leg id,
-- ARGV[5] hinted queue, ARGV[6] hinted agent id, ARGV[7] new agent state, ARGV[8] its reason,
-- ARGV[9] interval hash TTL (s)
-- Returns {'ok', call HGETALL, agent HGETALL (empty if gone)}; nil if the call is not ringing on
-- that leg (replayed or late); {'stale'} if a hint was wrong.
local call = redis.call('HMGET', KEYS[1], 'state', 'leg_id', 'queue', 'agent_id',
                        'priority', 'entered_at')
if call[1] ~= 'ringing' or call[2] ~= ARGV[4] then return false end
if call[3] ~= ARGV[5] or call[4] ~= ARGV[6] then return {'stale'} end
redis.call('HSET', KEYS[1], 'state', 'waiting', 'agent_id', '', 'leg_id', '')
redis.call('HINCRBY', KEYS[1], 'rona_count', 1)
redis.call('ZADD', KEYS[2], queue_score(call[5], call[6]), ARGV[3])
local agent = redis.call('HMGET', KEYS[3], 'state', 'call_id', 'state_since')
local agent_state = agent[1] or ''
if agent[1] == 'reserved' and agent[2] == ARGV[3] then
  agent_state = ARGV[7]
  redis.call('HSET', KEYS[3], 'state', ARGV[7], 'reason', ARGV[8], 'state_since', ARGV[1],
             'call_id', '', 'leg_id', '')
  if ARGV[7] == 'ready' then redis.call('HSET', KEYS[3], 'ready_since', ARGV[1]) end
  agent_left(KEYS[5], ARGV[9], 'reserved', agent[3], ARGV[1])
end
emit(KEYS[4], ARGV[2], 'call_requeued', ARGV[3], call[4], ARGV[1],
     {'queue', call[3], 'leg_id', ARGV[4], 'agent_state', agent_state, 'reason', ARGV[8]})
return {'ok', redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[3])}
