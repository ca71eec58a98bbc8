-- Transfer of a connected call to one agent, the call keeping its data and entry time:
-- mode 'blind': the target agent must be ready; it is reserved and rung like a normal
--   connect (the call is ringing on the new leg; a ring-no-answer requeues it as usual);
-- mode 'warm': the consultation ends in a transfer: the agent consulted (reserved or on_call
--   for this call) takes the call on its leg: connected if it answered the consultation (the
--   talk counts from now), else still ringing.
-- The first agent wraps up (_lib.lua transfer_out). The call moves to `queue` (the target
-- queue of a warm transfer to a queue, else its own), which counts transfers_in (and
-- transfers_in_answered when the call is connected at once).
-- KEYS[1] call hash, KEYS[2] hash of the call's agent (hint), KEYS[3] hash of the target agent,
-- KEYS[4] events stream, KEYS[5] interval hash of the call's queue (hint),
-- KEYS[6] recent facts of that queue, KEYS[7] interval hash of the queue it goes to,
-- KEYS[8] recent facts of that queue, KEYS[9] the first agent's interval hash,
-- KEYS[10] the target agent's interval hash
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] the hinted queue, ARGV[5] the
-- hinted agent id, ARGV[6] target agent id, ARGV[7] 'blind' or 'warm', ARGV[8] the new leg id
-- (blind) or the consultation's leg id (warm), ARGV[9] the queue it goes to, ARGV[10] '1' if
-- the first agent wraps up, ARGV[11] interval hash TTL, ARGV[12] seconds of recent facts kept
-- Returns {reason, call HGETALL, first agent HGETALL, target agent HGETALL}: reason 'ok',
-- 'not_connected' (also: a warm transfer is in progress, or none for 'warm'),
-- 'agent_not_ready'; {'stale'} if a hint was wrong.
local function reply(reason)
  return {reason, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]),
          redis.call('HGETALL', KEYS[3])}
end
local call = redis.call('HMGET', KEYS[1], 'state', 'queue', 'agent_id', 'entered_at',
                        'answered_at', 'reason', 'transfer_n', 'consult_agent', 'consult_leg',
                        'consult_channel')
if call[1] ~= 'connected' then return reply('not_connected') end
if call[2] ~= ARGV[4] or call[3] ~= ARGV[5] then return {'stale'} end
local warm = ARGV[7] == 'warm'
local target = redis.call('HMGET', KEYS[3], 'state', 'call_id', 'leg_id', 'state_since')
local connected = false
if warm then
  if (call[8] or '') ~= ARGV[6] or (call[9] or '') ~= ARGV[8] then
    return reply('not_connected')
  end
  if target[2] ~= ARGV[3] or (target[1] ~= 'reserved' and target[1] ~= 'on_call') then
    return reply('agent_not_ready')
  end
  connected = target[1] == 'on_call'
else
  if (call[8] or '') ~= '' then return reply('not_connected') end
  if target[1] ~= 'ready' then return reply('agent_not_ready') end
end
local now, ttl, n = ARGV[1], ARGV[11], tonumber(call[7] or '') or 0
local talk = elapsed(call[5], now)
local agent_state = transfer_out(KEYS[2], KEYS[9], ARGV[3], call[6] or '', n == 0, ARGV[10],
                                 talk, now, ttl, KEYS[5], KEYS[6], ARGV[12])
local state, answered, channel = 'ringing', '', ''
if connected then state, answered, channel = 'connected', now, call[10] or '' end
redis.call('HSET', KEYS[1], 'state', state, 'queue', ARGV[9], 'agent_id', ARGV[6],
           'leg_id', ARGV[8], 'leg_channel', channel, 'answered_at', answered,
           'transfer_n', n + 1, 'consult_agent', '', 'consult_leg', '', 'consult_queue', '',
           'consult_channel', '')
append_json(KEYS[1], 'transfers', transfer_entry(now, ARGV[7], call[2], ARGV[9], call[3],
                                                 ARGV[6]))
if not warm then
  redis.call('HSET', KEYS[3], 'state', 'reserved', 'reason', '', 'state_since', now,
             'call_id', ARGV[3], 'leg_id', ARGV[8])
  agent_left(KEYS[10], ttl, 'ready', target[4], now)
elseif connected then
  redis.call('HSET', KEYS[3], 'last_queue', ARGV[9])
  redis.call('HINCRBY', KEYS[3], 'calls_handled', 1)
end
local ints = {'transfers_in', 1}
if connected then
  ints[3] = 'transfers_in_answered'
  ints[4] = 1
  recent(KEYS[8], now, ARGV[12], 'j|' .. ARGV[3])
end
count(KEYS[7], ttl, ints, {})
recent(KEYS[8], now, ARGV[12], 'i|' .. ARGV[3])
emit(KEYS[4], ARGV[2], 'call_transferred', ARGV[3], call[3], now,
     {'kind', ARGV[7], 'from_queue', call[2], 'queue', ARGV[9], 'to_agent', ARGV[6],
      'state', state, 'agent_state', agent_state, 'leg_id', ARGV[8],
      'entered_at', call[4] or '', 'answered_at', call[5] or '', 'reason', call[6] or ''})
return reply('ok')
