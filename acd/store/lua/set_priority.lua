-- A supervisor changes the priority of a waiting call: it is re-scored in its queue with the
-- same entered_at (so among calls of its new priority it keeps its age).
-- KEYS[1] call hash, KEYS[2] zset of the call's queue (hint), KEYS[3] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] new priority,
-- ARGV[5] the hinted queue
-- Returns the call's HGETALL; nil if the call is not waiting; {'stale'} if the hint was wrong.
local call = redis.call('HMGET', KEYS[1], 'state', 'queue', 'priority', 'entered_at')
if call[1] ~= 'waiting' then return false end
if call[2] ~= ARGV[5] then return {'stale'} end
redis.call('HSET', KEYS[1], 'priority', ARGV[4])
redis.call('ZADD', KEYS[2], queue_score(ARGV[4], call[4]), ARGV[3])
emit(KEYS[3], ARGV[2], 'call_priority_changed', ARGV[3], '', ARGV[1],
     {'queue', call[2], 'priority', ARGV[4], 'old_priority', call[3] or ''})
return redis.call('HGETALL', KEYS[1])
