-- The call is over, from any live state. Idempotent: an ended (or unknown) call returns nil, so
-- nothing is counted twice. Its agent, if reserved for it -> ready; if on_call with it ->
-- wrap_up, or ready when there is no wrap-up. The ended hash expires after a while.
-- Counts, in the interval of now and the recent facts of the call's queue (per reason too):
--   from waiting/ringing, outcome 'abandoned': abandoned, its wait's bucket (wait = now -
--   entered_at); outcome 'timeout': timed_out; 'voicemail' and 'closed' (refused by the queue's
--   admission): voicemail, closed; 'callback_failed' (also from scheduled): callback_failed;
--   other outcomes count nothing; a call that was transferred (answered before) counts
--   transfers_in_lost instead (abandoned or timed out);
--   from connected: handled, talk_sum_s (talk = now - answered_at, the latest answer);
--   from ivr, if the call has a flow: the funnel (path reached, left at its last node by exit
--   'closed', 'fallback', or 'hangup' for any other outcome).
-- The agent's time in reserved (ringing_s) or on_call (talk_s, handled + 1). An agent who
-- wraps up carries the call (wrap_call, wrap_reason, wrap_final = '1') until its wrap-up ends
-- (set_agent_state.lua counts the codes then).
-- KEYS[1] call hash, KEYS[2] live call set, KEYS[3] zset of the call's queue (hint),
-- KEYS[4] hash of the call's agent (hint), KEYS[5] events stream,
-- KEYS[6] interval hash of the call's queue (hint), KEYS[7] recent facts of that queue,
-- KEYS[8] the agent's interval hash (hint), KEYS[9] funnel hash of the call's flow (hint),
-- KEYS[10] the call's lease (deleted: nobody drives an ended call)
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] outcome,
-- ARGV[5] '1' if the agent wraps up, ARGV[6] hinted queue, ARGV[7] hinted agent id,
-- ARGV[8] seconds to keep the ended hash (0: forever), ARGV[9] hinted flow,
-- ARGV[10] interval hash TTL (s), ARGV[11] seconds of recent facts kept,
-- ARGV[12] who ended it ('caller', 'agent', or '' when not known), kept in the event
-- Returns {'ok', call HGETALL, agent HGETALL (empty if no agent changed)}; nil if not live;
-- {'stale'} if a hint was wrong.
local IVR_EXITS = {closed = 'closed', fallback = 'fallback'}
-- Outcomes of a queued call counted as such, with the kind of their recent fact.
local QUEUE_EXITS = {voicemail = {'voicemail', 'm'}, closed = {'closed', 'x'},
                     callback_failed = {'callback_failed', 'f'}}
local call = redis.call('HMGET', KEYS[1], 'state', 'queue', 'agent_id', 'entered_at',
                        'answered_at', 'flow', 'ivr_path', 'reason', 'transfer_n')
local reason = call[8] or ''
local transferred = (tonumber(call[9] or '') or 0) > 0
if not call[1] or call[1] == 'ended' then return false end
if call[2] ~= ARGV[6] or call[3] ~= ARGV[7] or (call[6] or '') ~= ARGV[9] then
  return {'stale'}
end
local now, ttl, outcome = ARGV[1], ARGV[10], ARGV[4]
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', now, 'outcome', outcome)
redis.call('SREM', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[10])
local agent_state = ''
if call[3] ~= '' then
  local agent = redis.call('HMGET', KEYS[4], 'state', 'call_id', 'state_since')
  if agent[2] == ARGV[3] and busy(agent[1]) then
    agent_state = 'ready'
    if agent[1] == 'on_call' and ARGV[5] == '1' then agent_state = 'wrap_up' end
    redis.call('HSET', KEYS[4], 'state', agent_state, 'reason', '', 'state_since', now,
               'call_id', '', 'leg_id', '')
    if agent_state == 'ready' then redis.call('HSET', KEYS[4], 'ready_since', now) end
    if agent_state == 'wrap_up' then
      redis.call('HSET', KEYS[4], unpack(WRAP_CLEAR))
      redis.call('HSET', KEYS[4], 'wrap_call', ARGV[3], 'wrap_final', '1', 'wrap_reason', reason)
    end
    agent_left(KEYS[8], ttl, agent[1], agent[3], now)
    if agent[1] == 'on_call' then count(KEYS[8], ttl, {'handled', 1}, {}) end
  end
end
emit(KEYS[5], ARGV[2], 'call_ended', ARGV[3], call[3], now,
     {'queue', call[2], 'outcome', outcome, 'from_state', call[1], 'agent_state', agent_state,
      'entered_at', call[4] or '', 'answered_at', call[5] or '', 'ended_by', ARGV[12] or '',
      'reason', reason})
local queued = call[1] == 'waiting' or call[1] == 'ringing' or call[1] == 'scheduled'
if queued and transferred then
  if outcome == 'abandoned' or outcome == 'timeout' then
    count(KEYS[6], ttl, {'transfers_in_lost', 1}, {})
    recent(KEYS[7], now, ARGV[11], 'l|' .. ARGV[3])
  end
elseif queued then
  if outcome == 'abandoned' then
    local wait = elapsed(call[4], now)
    local bucket = 'bw:' .. wait_bucket(wait)
    count(KEYS[6], ttl, {'abandoned', 1, bucket, 1, rf(reason, 'abandoned'), 1,
                         rf(reason, bucket), 1}, {})
    recent(KEYS[7], now, ARGV[11], 'b|' .. ARGV[3] .. '|' .. fmt(wait))
  elseif outcome == 'timeout' then
    count(KEYS[6], ttl, {'timed_out', 1, rf(reason, 'timed_out'), 1}, {})
    recent(KEYS[7], now, ARGV[11], 't|' .. ARGV[3])
  elseif QUEUE_EXITS[outcome] then
    local field = QUEUE_EXITS[outcome][1]
    count(KEYS[6], ttl, {field, 1, rf(reason, field), 1}, {})
    recent(KEYS[7], now, ARGV[11], QUEUE_EXITS[outcome][2] .. '|' .. ARGV[3])
  end
elseif call[1] == 'connected' then
  local talk = elapsed(call[5], now)
  count(KEYS[6], ttl, {'handled', 1, rf(reason, 'handled'), 1},
        {'talk_sum_s', talk, rf(reason, 'talk_sum_s'), talk})
  recent(KEYS[7], now, ARGV[11], 'h|' .. ARGV[3] .. '|' .. fmt(talk))
elseif call[1] == 'ivr' and ARGV[9] ~= '' then
  funnel_exit(KEYS[9], ttl, call[7], IVR_EXITS[outcome] or 'hangup')
end
local result = redis.call('HGETALL', KEYS[1])
if tonumber(ARGV[8]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[8]) end
if agent_state == '' then return {'ok', result, {}} end
return {'ok', result, redis.call('HGETALL', KEYS[4])}
