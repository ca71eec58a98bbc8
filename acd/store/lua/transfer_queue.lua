-- Blind transfer (or escalation) to a queue: the connected call goes back to waiting, in the
-- target queue, with its data and its original entry time (so its old seniority there); the
-- agent wraps up (_lib.lua transfer_out). The call is never offered a second time: the target
-- queue counts transfers_in (+ recent fact 'i'); the source queue transferred, handled and the
-- talk (see transfer_out).
-- KEYS[1] call hash, KEYS[2] zset of the target queue, KEYS[3] hash of the call's agent (hint),
-- KEYS[4] events stream, KEYS[5] interval hash of the call's queue (hint),
-- KEYS[6] recent facts of that queue, KEYS[7] interval hash of the target queue,
-- KEYS[8] recent facts of the target queue, KEYS[9] the agent's interval hash
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] the hinted queue, ARGV[5] the
-- hinted agent id, ARGV[6] target queue, ARGV[7] required skills there (JSON), ARGV[8] kind
-- ('blind' or 'escalation'), ARGV[9] '1' if the agent wraps up, ARGV[10] interval hash TTL,
-- ARGV[11] seconds of recent facts kept
-- Returns {'ok', call HGETALL, agent HGETALL (empty if not changed)}; nil if the call is not
-- connected, or a warm transfer is in progress; {'stale'} if a hint was wrong.
local call = redis.call('HMGET', KEYS[1], 'state', 'queue', 'agent_id', 'priority',
                        'entered_at', 'answered_at', 'reason', 'transfer_n', 'consult_agent')
if call[1] ~= 'connected' or (call[9] or '') ~= '' then return false end
if call[2] ~= ARGV[4] or call[3] ~= ARGV[5] then return {'stale'} end
local now, ttl, n = ARGV[1], ARGV[10], tonumber(call[8] or '') or 0
local talk = elapsed(call[6], now)
local agent_state = transfer_out(KEYS[3], KEYS[9], ARGV[3], call[7] or '', n == 0, ARGV[9],
                                 talk, now, ttl, KEYS[5], KEYS[6], ARGV[11])
redis.call('HSET', KEYS[1], 'state', 'waiting', 'queue', ARGV[6], 'required', ARGV[7],
           'agent_id', '', 'leg_id', '', 'leg_channel', '', 'answered_at', '',
           'transfer_n', n + 1)
append_json(KEYS[1], 'transfers', transfer_entry(now, ARGV[8], call[2], ARGV[6], call[3], ''))
redis.call('ZADD', KEYS[2], queue_score(call[4], call[5]), ARGV[3])
count(KEYS[7], ttl, {'transfers_in', 1}, {})
recent(KEYS[8], now, ARGV[11], 'i|' .. ARGV[3])
emit(KEYS[4], ARGV[2], 'call_transferred', ARGV[3], call[3], now,
     {'kind', ARGV[8], 'from_queue', call[2], 'queue', ARGV[6], 'to_agent', '',
      'state', 'waiting', 'agent_state', agent_state, 'entered_at', call[5] or '',
      'answered_at', call[6] or '', 'reason', call[7] or ''})
if agent_state == '' then return {'ok', redis.call('HGETALL', KEYS[1]), {}} end
return {'ok', redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[3])}
