-- THE atomic step: give one waiting call to one ready agent, or change nothing.
-- KEYS[1] call hash, KEYS[2] agent hash, KEYS[3] zset of the call's queue (hint), KEYS[4] events,
-- KEYS[5] the agent's interval hash (now)
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] agent id, ARGV[5] agent leg id,
-- ARGV[6] the hinted queue of the call, ARGV[7] interval hash TTL (s), ARGV[8] '1': lean
-- Returns {reason, call HGETALL, agent HGETALL}; reason is 'ok', 'no_such_call',
-- 'no_such_agent', 'call_not_waiting' or 'agent_not_ready'; {'stale'} if the hint was wrong.
-- Lean: {'ok'} alone on success. The caller's copies of the waiting call and the ready agent
-- are the hashes but for what this script changes (below), and the caller applies that
-- change to them itself: the two HGETALLs were about a third of this script's time in Redis.
-- A refusal still answers both hashes (the caller's copies were wrong).
-- On 'ok': call waiting -> ringing (agent_id, leg_id) and out of its queue; agent ready ->
-- reserved (call_id, leg_id, state_since = now). Counts the agent's ready time (ready_s).
local function reply(reason)
  return {reason, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
end
local call = redis.call('HMGET', KEYS[1], 'state', 'queue')
if not call[1] or call[1] == 'ended' then return reply('no_such_call') end
local agent = redis.call('HMGET', KEYS[2], 'state', 'state_since')
if not agent[1] then return reply('no_such_agent') end
if call[1] ~= 'waiting' then return reply('call_not_waiting') end
if agent[1] ~= 'ready' then return reply('agent_not_ready') end
if call[2] ~= ARGV[6] then return {'stale'} end
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[1], 'state', 'ringing', 'agent_id', ARGV[4], 'leg_id', ARGV[5])
redis.call('HSET', KEYS[2], 'state', 'reserved', 'reason', '', 'state_since', ARGV[1],
           'call_id', ARGV[3], 'leg_id', ARGV[5])
emit(KEYS[4], ARGV[2], 'call_claimed', ARGV[3], ARGV[4], ARGV[1],
     {'queue', call[2], 'leg_id', ARGV[5]})
agent_left(KEYS[5], ARGV[7], 'ready', agent[2], ARGV[1])
if ARGV[8] == '1' then return {'ok'} end
return reply('ok')
