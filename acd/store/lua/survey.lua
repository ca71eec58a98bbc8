-- A post-call survey answer (issue 9 seam for the survey of issue 4): counted once per call, in
-- the interval of now of the call's queue, per reason too. CSAT on 1..5 is kept as points on
-- 0..100 (1 -> 0, 2 -> 25, ... 5 -> 100, METRICS.md), NPS 0..10 as promoters (9-10) and
-- detractors (0-6) among the answers.
-- KEYS[1] call hash, KEYS[2] interval hash of the call's queue (hint), KEYS[3] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] the hinted queue,
-- ARGV[5] CSAT answer 1..5 ('' = none), ARGV[6] NPS answer 0..10 ('' = none),
-- ARGV[7] interval hash TTL (s)
-- Returns 1 counted, 0 not (no such call, no queue, or already counted); {'stale'} if the
-- hinted queue was wrong.
local call = redis.call('HMGET', KEYS[1], 'queue', 'reason')
if not call[1] or call[1] == '' then return 0 end
if call[1] ~= ARGV[4] then return {'stale'} end
if redis.call('HSETNX', KEYS[1], 'survey_counted', '1') == 0 then return 0 end
local ints, floats = {}, {}
local csat, nps = tonumber(ARGV[5]), tonumber(ARGV[6])
if csat then
  ints = {'csat_n', 1, rf(call[2], 'csat_n'), 1}
  floats = {'csat_points', (csat - 1) * 25, rf(call[2], 'csat_points'), (csat - 1) * 25}
  redis.call('HSET', KEYS[1], 'survey_csat', ARGV[5])
end
if nps then
  ints[#ints + 1] = 'nps_n'
  ints[#ints + 1] = 1
  ints[#ints + 1] = rf(call[2], 'nps_n')
  ints[#ints + 1] = 1
  local kind = nil
  if nps >= 9 then kind = 'nps_promoters' elseif nps <= 6 then kind = 'nps_detractors' end
  if kind then
    ints[#ints + 1] = kind
    ints[#ints + 1] = 1
    ints[#ints + 1] = rf(call[2], kind)
    ints[#ints + 1] = 1
  end
  redis.call('HSET', KEYS[1], 'survey_nps', ARGV[6])
end
count(KEYS[2], ARGV[7], ints, floats)
emit(KEYS[3], ARGV[2], 'survey_answered', ARGV[3], '', ARGV[1],
     {'queue', call[1], 'reason', call[2] or '', 'csat', ARGV[5], 'nps', ARGV[6]})
return 1
