-- The agent answered: call ringing on that leg -> connected; its agent reserved -> on_call.
-- Counts: a first answer (the call was never transferred): answered, the wait's histogram
-- bucket and wait_sum_s (wait = now - entered_at) in the queue's interval hash (per reason
-- too) and recent facts; a transferred call answered again: transfers_in_answered only (each
-- call is answered once in the figures). The agent's ringing time (ringing_s). The agent
-- remembers the queue (last_queue): its wrap-up is charged to it.
-- EWT accuracy, when an EWT was predicted for the call (ewt_pred_s, at ewt_pred_at): the actual
-- wait since the prediction, ewt_n + 1, ewt_abs_err_s += |predicted - actual|, ewt_err_s +=
-- predicted - actual, ewt_w30 + 1 if the error is <= 30 s, ewt_w25 + 1 if it is <= 25 % of the
-- actual wait; recent fact 'e|<call>|<predicted>|<actual>'. A callback (the call has a
-- `callback` number: the customer answered its agent's call) also counts callback_answered,
-- recent fact 'k|<call>'; its wait is its virtual wait, from its queue entry.
-- KEYS[1] call hash, KEYS[2] hash of the call's agent (hint), KEYS[3] events stream,
-- KEYS[4] interval hash of the call's queue (hint), KEYS[5] recent facts of that queue,
-- KEYS[6] the agent's interval hash
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] agent leg id,
-- ARGV[5] the hinted agent id, ARGV[6] the hinted queue, ARGV[7] interval hash TTL (s),
-- ARGV[8] seconds of recent facts kept, ARGV[9] the leg's channel name ('' = not known)
-- Returns {'ok', call HGETALL, agent HGETALL}; nil if the call is not ringing on that leg or its
-- agent is not reserved for it (a replayed or late event); {'stale'} if a hint was wrong.
local call = redis.call('HMGET', KEYS[1], 'state', 'leg_id', 'agent_id', 'queue', 'entered_at',
                        'ewt_pred_s', 'ewt_pred_at', 'callback', 'reason', 'transfer_n',
                        'first_answered_at')
if call[1] ~= 'ringing' or call[2] ~= ARGV[4] then return false end
if call[3] ~= ARGV[5] or call[4] ~= ARGV[6] then return {'stale'} end
local agent = redis.call('HMGET', KEYS[2], 'state', 'call_id', 'state_since')
if agent[1] ~= 'reserved' or agent[2] ~= ARGV[3] then return false end
redis.call('HSET', KEYS[1], 'state', 'connected', 'answered_at', ARGV[1], 'outcome', 'answered')
if (ARGV[9] or '') ~= '' then redis.call('HSET', KEYS[1], 'leg_channel', ARGV[9]) end
if (call[11] or '') == '' then redis.call('HSET', KEYS[1], 'first_answered_at', ARGV[1]) end
redis.call('HSET', KEYS[2], 'state', 'on_call', 'state_since', ARGV[1], 'last_queue', call[4])
redis.call('HINCRBY', KEYS[2], 'calls_handled', 1)
emit(KEYS[3], ARGV[2], 'call_answered', ARGV[3], call[3], ARGV[1],
     {'queue', call[4], 'leg_id', ARGV[4], 'entered_at', call[5] or '',
      'transferred', tostring(tonumber(call[10] or '') or 0)})
if (tonumber(call[10] or '') or 0) > 0 then
  count(KEYS[4], ARGV[7], {'transfers_in_answered', 1}, {})
  recent(KEYS[5], ARGV[1], ARGV[8], 'j|' .. ARGV[3])
else
  local wait = elapsed(call[5], ARGV[1])
  local bucket = 'aw:' .. wait_bucket(wait)
  count(KEYS[4], ARGV[7], {'answered', 1, bucket, 1, rf(call[9], 'answered'), 1,
                           rf(call[9], bucket), 1},
        {'wait_sum_s', wait, rf(call[9], 'wait_sum_s'), wait})
  recent(KEYS[5], ARGV[1], ARGV[8], 'a|' .. ARGV[3] .. '|' .. fmt(wait))
  -- (the EWT and a callback's answer are the first answer's, as `answered`)
  local predicted = tonumber(call[6] or '')
  if predicted ~= nil then
    local actual = elapsed(call[7], ARGV[1])
    local err = predicted - actual
    local w30, w25 = 0, 0
    if math.abs(err) <= 30 then w30 = 1 end
    if math.abs(err) <= 0.25 * actual then w25 = 1 end
    count(KEYS[4], ARGV[7], {'ewt_n', 1, 'ewt_w30', w30, 'ewt_w25', w25},
          {'ewt_abs_err_s', math.abs(err), 'ewt_err_s', err})
    recent(KEYS[5], ARGV[1], ARGV[8],
           'e|' .. ARGV[3] .. '|' .. fmt(predicted) .. '|' .. fmt(actual))
  end
  if call[8] and call[8] ~= '' then
    count(KEYS[4], ARGV[7], {'callback_answered', 1}, {})
    recent(KEYS[5], ARGV[1], ARGV[8], 'k|' .. ARGV[3])
  end
end
agent_left(KEYS[6], ARGV[7], 'reserved', agent[3], ARGV[1])
return {'ok', redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
