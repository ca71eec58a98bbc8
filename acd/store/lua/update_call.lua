-- Change non-state fields of a live call; re-score it if it waits and queue/priority changed.
-- KEYS[1] call hash, KEYS[2] zset of the queue it waits in now (store.py's hint),
-- KEYS[3] zset of its queue after the update, KEYS[4] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] '1' if queue or priority change else '0',
-- ARGV[4] the hinted current queue, ARGV[5..] field, value pairs
-- Returns 1 updated, 0 no such live call, {'stale'} if the hint was wrong (the caller retries).
local cur = redis.call('HMGET', KEYS[1], 'id', 'state', 'queue')
if not cur[1] or cur[2] == 'ended' then return 0 end
local rescore = ARGV[3] == '1' and cur[2] == 'waiting'
if rescore and cur[3] ~= ARGV[4] then return {'stale'} end
local flat = argv_from(5)
hset(KEYS[1], flat)
if rescore then
  local h = redis.call('HMGET', KEYS[1], 'priority', 'entered_at')
  redis.call('ZREM', KEYS[2], cur[1])
  redis.call('ZADD', KEYS[3], queue_score(h[1], h[2]), cur[1])
end
emit(KEYS[4], ARGV[2], 'call_updated', cur[1], '', ARGV[1], flat)
return 1
