-- A scheduled callback's retry time came: back to waiting in its queue at its old place (the
-- same score: priority and entry time), for the next free agent.
-- KEYS[1] call hash, KEYS[2] zset of the call's queue (hint), KEYS[3] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] the hinted queue
-- Returns the call's HGETALL; nil if the call is not scheduled; {'stale'} if the hinted queue was
-- wrong.
local call = redis.call('HMGET', KEYS[1], 'state', 'queue', 'priority', 'entered_at')
if call[1] ~= 'scheduled' then return false end
if call[2] ~= ARGV[4] then return {'stale'} end
redis.call('HSET', KEYS[1], 'state', 'waiting', 'retry_at', '')
redis.call('ZADD', KEYS[2], queue_score(call[3], call[4]), ARGV[3])
emit(KEYS[3], ARGV[2], 'callback_due', ARGV[3], '', ARGV[1], {'queue', call[2]})
return redis.call('HGETALL', KEYS[1])
