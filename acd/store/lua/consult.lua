-- The consultation of a warm transfer: the connected call's agent talks to another agent while
-- the caller holds. The call stays connected with its agent all along; the agent consulted is
-- held for it (reserved while its phone rings, on_call once it answered). It ends in a
-- transfer (transfer_agent.lua, mode 'warm') or here ('end': the call stays with its agent).
-- ARGV[4] is the step:
--   'start': the call (connected with the hinted agent, no consultation) gets consult_agent,
--     consult_leg, consult_queue; the target agent, if ready, is reserved for it (ready_s);
--   'answered': the agent consulted answered on that leg: on_call (ringing_s), and the call
--     keeps its leg's channel name (consult_channel);
--   'end': the consultation on that leg is over: the call's consult fields are cleared; the
--     agent consulted, if still held for the call, goes to ARGV[9] with reason ARGV[10] (its
--     time reserved or talking is counted: ringing_s / talk_s).
-- KEYS[1] call hash, KEYS[2] hash of the agent consulted (start: the target; else the hinted
-- consult_agent), KEYS[3] events stream, KEYS[4] that agent's interval hash (now)
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] step, ARGV[5] the consult leg,
-- ARGV[6] start: the hinted agent of the call; else the hinted consult_agent,
-- ARGV[7] the target agent id (start) / the leg's channel name (answered) / the result
-- ('canceled', 'rona', ..., kept in the event) (end), ARGV[8] start: the target queue ('' =
-- the call's own), ARGV[9] end: the new state of the agent consulted, ARGV[10] end: its
-- reason, ARGV[11] interval hash TTL (s)
-- Returns {reason, call HGETALL, agent HGETALL}: reason 'ok', 'not_connected' (start: the call
-- is not connected or already consulting), 'agent_not_ready' (start), 'no_consultation'
-- (answered / end: no consultation on that leg); {'stale'} if a hint was wrong.
local function reply(reason)
  return {reason, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
end
local call = redis.call('HMGET', KEYS[1], 'state', 'agent_id', 'consult_agent', 'consult_leg',
                        'queue')
local now, step, ttl = ARGV[1], ARGV[4], ARGV[11]
if step == 'start' then
  if call[1] ~= 'connected' or (call[3] or '') ~= '' then return reply('not_connected') end
  if call[2] ~= ARGV[6] then return {'stale'} end
  local target = redis.call('HMGET', KEYS[2], 'state', 'state_since')
  if target[1] ~= 'ready' or ARGV[7] == call[2] then return reply('agent_not_ready') end
  redis.call('HSET', KEYS[1], 'consult_agent', ARGV[7], 'consult_leg', ARGV[5],
             'consult_queue', ARGV[8], 'consult_channel', '')
  redis.call('HSET', KEYS[2], 'state', 'reserved', 'reason', '', 'state_since', now,
             'call_id', ARGV[3], 'leg_id', ARGV[5])
  agent_left(KEYS[4], ttl, 'ready', target[2], now)
  emit(KEYS[3], ARGV[2], 'consult_started', ARGV[3], call[2], now,
       {'to_agent', ARGV[7], 'leg_id', ARGV[5], 'queue', call[5] or '', 'to_queue', ARGV[8]})
  return reply('ok')
end
if (call[4] or '') ~= ARGV[5] or ARGV[5] == '' then return reply('no_consultation') end
if (call[3] or '') ~= ARGV[6] then return {'stale'} end
local agent = redis.call('HMGET', KEYS[2], 'state', 'call_id', 'state_since')
local held = agent[2] == ARGV[3] and (agent[1] == 'reserved' or agent[1] == 'on_call')
if step == 'answered' then
  if not held or agent[1] ~= 'reserved' then return reply('no_consultation') end
  redis.call('HSET', KEYS[2], 'state', 'on_call', 'state_since', now)
  redis.call('HSET', KEYS[1], 'consult_channel', ARGV[7])
  agent_left(KEYS[4], ttl, 'reserved', agent[3], now)
  emit(KEYS[3], ARGV[2], 'consult_answered', ARGV[3], call[2], now,
       {'to_agent', ARGV[6], 'leg_id', ARGV[5], 'queue', call[5] or ''})
  return reply('ok')
end
redis.call('HSET', KEYS[1], 'consult_agent', '', 'consult_leg', '', 'consult_queue', '',
           'consult_channel', '')
local agent_state = ''
if held then
  agent_state = ARGV[9]
  redis.call('HSET', KEYS[2], 'state', ARGV[9], 'reason', ARGV[10], 'state_since', now,
             'call_id', '', 'leg_id', '')
  if ARGV[9] == 'ready' then redis.call('HSET', KEYS[2], 'ready_since', now) end
  agent_left(KEYS[4], ttl, agent[1], agent[3], now)
end
emit(KEYS[3], ARGV[2], 'consult_ended', ARGV[3], call[2], now,
     {'to_agent', ARGV[6], 'leg_id', ARGV[5], 'result', ARGV[7],
      'to_agent_state', agent_state, 'queue', call[5] or ''})
return reply('ok')
