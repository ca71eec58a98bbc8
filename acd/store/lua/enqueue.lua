-- IVR hands the call to a queue: ivr -> waiting, and it joins the queue's sorted set.
-- KEYS[1] call hash, KEYS[2] queue zset, KEYS[3] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] queue, ARGV[5] priority,
-- ARGV[6] required skills (JSON), ARGV[7] entered_at
-- Returns the call's HGETALL, or nil if the call is not in state ivr (absent, queued, ended).
if redis.call('HGET', KEYS[1], 'state') ~= 'ivr' then return false end
redis.call('HSET', KEYS[1], 'state', 'waiting', 'queue', ARGV[4], 'priority', ARGV[5],
           'required', ARGV[6], 'entered_at', ARGV[7])
redis.call('ZADD', KEYS[2], queue_score(ARGV[5], ARGV[7]), ARGV[3])
emit(KEYS[3], ARGV[2], 'call_queued', ARGV[3], '', ARGV[1],
     {'queue', ARGV[4], 'priority', ARGV[5], 'entered_at', ARGV[7]})
return redis.call('HGETALL', KEYS[1])
