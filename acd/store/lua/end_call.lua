-- The call is over, from any live state. Idempotent: an ended (or unknown) call returns nil, so
-- nothing is counted twice. Its agent, if reserved for it -> ready; if on_call with it ->
-- wrap_up, or ready when there is no wrap-up. The ended hash expires after a while.
-- KEYS[1] call hash, KEYS[2] live call set, KEYS[3] zset of the call's queue (hint),
-- KEYS[4] hash of the call's agent (hint), KEYS[5] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] outcome,
-- ARGV[5] '1' if the agent wraps up, ARGV[6] hinted queue, ARGV[7] hinted agent id,
-- ARGV[8] seconds to keep the ended hash (0: forever)
-- Returns {'ok', call HGETALL, agent HGETALL (empty if no agent changed)}; nil if not live;
-- {'stale'} if a hint was wrong.
local call = redis.call('HMGET', KEYS[1], 'state', 'queue', 'agent_id', 'entered_at',
                        'answered_at')
if not call[1] or call[1] == 'ended' then return false end
if call[2] ~= ARGV[6] or call[3] ~= ARGV[7] then return {'stale'} end
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', ARGV[1], 'outcome', ARGV[4])
redis.call('SREM', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
local agent_state = ''
if call[3] ~= '' then
  local agent = redis.call('HMGET', KEYS[4], 'state', 'call_id')
  if agent[2] == ARGV[3] and busy(agent[1]) then
    agent_state = 'ready'
    if agent[1] == 'on_call' and ARGV[5] == '1' then agent_state = 'wrap_up' end
    redis.call('HSET', KEYS[4], 'state', agent_state, 'reason', '', 'state_since', ARGV[1],
               'call_id', '', 'leg_id', '')
    if agent_state == 'ready' then redis.call('HSET', KEYS[4], 'ready_since', ARGV[1]) end
  end
end
emit(KEYS[5], ARGV[2], 'call_ended', ARGV[3], call[3], ARGV[1],
     {'queue', call[2], 'outcome', ARGV[4], 'from_state', call[1], 'agent_state', agent_state,
      'entered_at', call[4] or '', 'answered_at', call[5] or ''})
local result = redis.call('HGETALL', KEYS[1])
if tonumber(ARGV[8]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[8]) end
if agent_state == '' then return {'ok', result, {}} end
return {'ok', result, redis.call('HGETALL', KEYS[4])}
