-- IVR hands the call to a queue: ivr -> waiting, and it joins the queue's sorted set.
-- Counts: offered (interval hash and recent facts of the queue; per reason too, see
-- _lib.lua rf); the IVR funnel of the call's flow (every node of its ivr_path reached, left at
-- the last one by exit 'queue').
-- KEYS[1] call hash, KEYS[2] queue zset, KEYS[3] events stream,
-- KEYS[4] the queue's interval hash (now), KEYS[5] the queue's recent facts zset,
-- KEYS[6] funnel hash of the call's flow (hint) for the interval of now
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] queue, ARGV[5] priority,
-- ARGV[6] required skills (JSON), ARGV[7] entered_at, ARGV[8] the hinted flow of the call,
-- ARGV[9] interval hash TTL (s), ARGV[10] seconds of recent facts kept, ARGV[11] the EWT
-- predicted for the caller at entry ('' = none; kept with now as ewt_pred_s / ewt_pred_at, for
-- the EWT accuracy counted by answer.lua)
-- Returns the call's HGETALL, or nil if the call is not in state ivr (absent, queued, ended);
-- {'stale'} if the hinted flow was wrong.
local cur = redis.call('HMGET', KEYS[1], 'state', 'flow', 'ivr_path', 'reason')
if cur[1] ~= 'ivr' then return false end
if (cur[2] or '') ~= ARGV[8] then return {'stale'} end
redis.call('HSET', KEYS[1], 'state', 'waiting', 'queue', ARGV[4], 'priority', ARGV[5],
           'required', ARGV[6], 'entered_at', ARGV[7], 'ewt_pred_s', ARGV[11] or '',
           'ewt_pred_at', ARGV[1])
redis.call('ZADD', KEYS[2], queue_score(ARGV[5], ARGV[7]), ARGV[3])
emit(KEYS[3], ARGV[2], 'call_queued', ARGV[3], '', ARGV[1],
     {'queue', ARGV[4], 'priority', ARGV[5], 'entered_at', ARGV[7], 'reason', cur[4] or ''})
count(KEYS[4], ARGV[9], {'offered', 1, rf(cur[4], 'offered'), 1}, {})
recent(KEYS[5], ARGV[1], ARGV[10], 'o|' .. ARGV[3])
if ARGV[8] ~= '' then funnel_exit(KEYS[6], ARGV[9], cur[3], 'queue') end
return redis.call('HGETALL', KEYS[1])
