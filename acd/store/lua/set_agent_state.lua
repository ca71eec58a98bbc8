-- Compare-and-set of an agent's state. An agent leaves reserved/on_call here only when that is
-- stale (its call is no longer ringing/connected with it, nor consulting it); a live one
-- belongs to the call steps (answer, requeue, end_call, transfers), so a call and its agent
-- always point at each other.
-- Counts the time in the state left (now - state_since) in the agent's interval hash; leaving
-- wrap_up also adds it to wrapup_sum_s of the agent's last_queue (interval, per reason, and
-- recent facts), and ends the wrap-up of its call (_lib.lua wrap_end: codes, resolved, the
-- call's wrapups list, a call_wrapped event).
-- KEYS[1] agent hash, KEYS[2] hash of the agent's call (hint), KEYS[3] events stream,
-- KEYS[4] the agent's interval hash, KEYS[5] interval hash of the agent's last_queue (hint),
-- KEYS[6] recent facts of that queue, KEYS[7] hash of the call it wraps up (hint)
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] agent id, ARGV[4] new state (never reserved or
-- on_call: store.py checks), ARGV[5] reason, ARGV[6] expected current states, comma-separated
-- ('' = any), ARGV[7] the hinted call id of the agent, ARGV[8] the hinted last_queue,
-- ARGV[9] interval hash TTL (s), ARGV[10] seconds of recent facts kept,
-- ARGV[11] the hinted wrap_call, ARGV[12] '1': leaving wrap_up for ready / not_ready needs a
-- wrap-up code first (wrapup_mode until_code)
-- Returns the agent's HGETALL; nil if it does not exist, its state is not expected, it is
-- busy with a live call, or a code is needed first; {'stale'} if a hint was wrong (the caller
-- retries). Same state and reason again: no change, no event, nothing counted.
local cur = redis.call('HMGET', KEYS[1], 'state', 'reason', 'call_id', 'state_since',
                       'last_queue', 'wrap_call', 'wrap_codes', 'wrap_resolved', 'wrap_final',
                       'wrap_reason')
if not cur[1] then return false end
if ARGV[6] ~= '' then
  local expected = false
  for s in string.gmatch(ARGV[6], '[^,]+') do
    if s == cur[1] then expected = true end
  end
  if not expected then return false end
end
if busy(cur[1]) then
  if (cur[3] or '') ~= ARGV[7] then return {'stale'} end
  local call = redis.call('HMGET', KEYS[2], 'state', 'agent_id', 'consult_agent')
  if (call[1] == 'ringing' or call[1] == 'connected') and
      (call[2] == ARGV[3] or call[3] == ARGV[3]) then
    return false
  end
end
if cur[1] == ARGV[4] and cur[2] == ARGV[5] then return redis.call('HGETALL', KEYS[1]) end
local last_queue = cur[5] or ''
if cur[1] == 'wrap_up' and last_queue ~= ARGV[8] then return {'stale'} end
local wrap = {call = '', codes = cur[7] or '[]', resolved = cur[8] or '', final = cur[9] or '',
              reason = cur[10] or '', queue = last_queue}
if cur[1] == 'wrap_up' then wrap.call = cur[6] or '' end
if wrap.call ~= ARGV[11] then return {'stale'} end
if wrap.call ~= '' and ARGV[12] == '1' and (ARGV[4] == 'ready' or ARGV[4] == 'not_ready')
    and #str_list(wrap.codes) == 0 then
  return false
end
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'reason', ARGV[5], 'state_since', ARGV[1],
           'call_id', '', 'leg_id', '')
if ARGV[4] == 'ready' and cur[1] ~= 'ready' then
  redis.call('HSET', KEYS[1], 'ready_since', ARGV[1])
end
if cur[1] == 'wrap_up' then redis.call('HSET', KEYS[1], unpack(WRAP_CLEAR)) end
emit(KEYS[3], ARGV[2], 'agent_state_changed', cur[3] or '', ARGV[3], ARGV[1],
     {'from_state', cur[1], 'state', ARGV[4], 'reason', ARGV[5], 'wrap_call', wrap.call})
local spent = agent_left(KEYS[4], ARGV[9], cur[1], cur[4], ARGV[1])
if cur[1] == 'wrap_up' and last_queue ~= '' and spent > 0 then
  count(KEYS[5], ARGV[9], {}, {'wrapup_sum_s', spent, rf(wrap.reason, 'wrapup_sum_s'), spent})
  recent(KEYS[6], ARGV[1], ARGV[10],
         'w|' .. ARGV[3] .. '|' .. (cur[4] or '') .. '|' .. fmt(spent))
end
if wrap.call ~= '' then
  wrap_end(wrap, ARGV[3], ARGV[1], spent, KEYS[7], KEYS[3], ARGV[2], KEYS[5], ARGV[9])
end
return redis.call('HGETALL', KEYS[1])
