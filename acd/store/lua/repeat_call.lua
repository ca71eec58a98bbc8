-- A queued call from a number whose last answered call is recent: that earlier call is a
-- repeat (METRICS.md: repeat-call rate, FCR proxy). Counted once per earlier call (its record's
-- `repeated` flag) and once per new call (the call's `repeat_checked` flag), in the earlier
-- call's queue (per the earlier call's reason too) and agent, in the interval of now.
-- KEYS[1] the new call's hash, KEYS[2] last-answer hash of the caller number,
-- KEYS[3] interval hash of the earlier call's queue (hint), KEYS[4] recent facts of that queue,
-- KEYS[5] interval hash of the earlier call's agent (hint)
-- ARGV[1] now, ARGV[2] (unused: no event), ARGV[3] the new call's id, ARGV[4] oldest answer
-- time that still counts, ARGV[5] hinted earlier call id, ARGV[6] interval hash TTL (s),
-- ARGV[7] seconds of recent facts kept
-- Returns 1 when counted, 0 when not (nothing recent, already counted), {'stale'} if the hint
-- is wrong (the last answer changed meanwhile).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = redis.call('HMGET', KEYS[2], 'call', 'at', 'repeated', 'reason')
if not last[1] or last[1] == ARGV[3] then return 0 end
if last[1] ~= ARGV[5] then return {'stale'} end
if tonumber(last[2]) < tonumber(ARGV[4]) or last[3] == '1' then return 0 end
if redis.call('HSETNX', KEYS[1], 'repeat_checked', '1') == 0 then return 0 end
redis.call('HSET', KEYS[2], 'repeated', '1')
count(KEYS[3], ARGV[6], {'repeats', 1, rf(last[4], 'repeats'), 1}, {})
recent(KEYS[4], ARGV[1], ARGV[7], 'r|' .. ARGV[3])
count(KEYS[5], ARGV[6], {'repeats', 1}, {})
return 1
