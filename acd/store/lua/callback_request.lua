-- The caller takes the callback offer: the call stays waiting in its queue with its place
-- (same score: it keeps its priority and entry time) but has no line any more; `callback` holds
-- the number to call back. Once per call.
-- Counts: callback_requested in the queue's interval hash of now; recent fact 'c|<call>'.
-- KEYS[1] call hash, KEYS[2] events stream, KEYS[3] interval hash of the call's queue (hint),
-- KEYS[4] recent facts of that queue
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] number to call back,
-- ARGV[5] the hinted queue, ARGV[6] interval hash TTL (s), ARGV[7] seconds of recent facts
-- Returns the call's HGETALL; nil if the call is not waiting or is a callback already;
-- {'stale'} if the hinted queue was wrong.
local call = redis.call('HMGET', KEYS[1], 'state', 'queue', 'callback')
if call[1] ~= 'waiting' or (call[3] and call[3] ~= '') then return false end
if call[2] ~= ARGV[5] then return {'stale'} end
redis.call('HSET', KEYS[1], 'callback', ARGV[4], 'callback_at', ARGV[1], 'cb_attempts', 0)
emit(KEYS[2], ARGV[2], 'callback_requested', ARGV[3], '', ARGV[1],
     {'queue', call[2], 'number', ARGV[4]})
count(KEYS[3], ARGV[6], {'callback_requested', 1}, {})
recent(KEYS[4], ARGV[1], ARGV[7], 'c|' .. ARGV[3])
return redis.call('HGETALL', KEYS[1])
