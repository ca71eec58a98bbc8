-- Admission overflow: a waiting call leaves its queue for another one. It keeps its priority and
-- entry time (so its place in the new queue is by its original entry, and its wait counts from
-- there), its skills become the new queue's; the old queue is appended to its overflow_path.
-- Counts: overflowed in the old queue, offered in the new one (interval hashes of now and
-- recent facts: 'v|<call>' and 'o|<call>').
-- KEYS[1] call hash, KEYS[2] zset of the old queue (hint), KEYS[3] zset of the new queue,
-- KEYS[4] events stream, KEYS[5] interval hash of the old queue, KEYS[6] recent facts of the
-- old queue, KEYS[7] interval hash of the new queue, KEYS[8] recent facts of the new queue
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] the hinted (old) queue,
-- ARGV[5] the new queue, ARGV[6] required skills in the new queue (JSON), ARGV[7] EWT predicted
-- in the new queue ('' = none), ARGV[8] interval hash TTL (s), ARGV[9] seconds of recent facts
-- Returns the call's HGETALL; nil if the call is not waiting or already in the new queue;
-- {'stale'} if the hinted queue was wrong.
local call = redis.call('HMGET', KEYS[1], 'state', 'queue', 'priority', 'entered_at',
                        'overflow_path')
if call[1] ~= 'waiting' or call[2] == ARGV[5] then return false end
if call[2] ~= ARGV[4] then return {'stale'} end
local ok, path = pcall(cjson.decode, call[5] or '[]')
if not ok or type(path) ~= 'table' then path = {} end
path[#path + 1] = call[2]
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], queue_score(call[3], call[4]), ARGV[3])
redis.call('HSET', KEYS[1], 'queue', ARGV[5], 'required', ARGV[6],
           'overflow_path', cjson.encode(path), 'ewt_pred_s', ARGV[7], 'ewt_pred_at', ARGV[1])
emit(KEYS[4], ARGV[2], 'call_overflowed', ARGV[3], '', ARGV[1],
     {'queue', ARGV[5], 'from_queue', call[2], 'entered_at', call[4] or ''})
count(KEYS[5], ARGV[8], {'overflowed', 1}, {})
recent(KEYS[6], ARGV[1], ARGV[9], 'v|' .. ARGV[3])
count(KEYS[7], ARGV[8], {'offered', 1}, {})
recent(KEYS[8], ARGV[1], ARGV[9], 'o|' .. ARGV[3])
return redis.call('HGETALL', KEYS[1])
