-- A post-call survey answer, stored once per call and question (a replay or a second instance
-- seeing the same UserEvent changes nothing). Only for a call an agent answered.
-- Counts, in the interval hashes of now of the call's queue and of its agent: csat_n + 1 and
-- csat_points + (answer - 1) * 25 for 'csat'; nps_n + 1 and nps_promoters (9-10) or
-- nps_detractors (0-6) + 1 for 'nps'; the same in the queue's hash per call reason
-- ('r:<reason>:<field>', issue 9); recent fact 's|<call>|<agent>|<question>|<answer>'.
-- KEYS[1] call hash, KEYS[2] events stream, KEYS[3] interval hash of the call's queue (hint),
-- KEYS[4] recent facts of that queue, KEYS[5] interval hash of the call's agent (hint)
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4] question ('csat' or 'nps'),
-- ARGV[5] answer (an integer on the question's scale: survey.py checked it), ARGV[6] hinted
-- queue, ARGV[7] hinted agent id, ARGV[8] interval hash TTL (s), ARGV[9] seconds of recent facts
-- Returns the call's HGETALL; nil if the call was never answered or this question has an
-- answer already; {'stale'} if a hint was wrong.
local field = 'survey_' .. ARGV[4]
local call = redis.call('HMGET', KEYS[1], 'answered_at', 'queue', 'agent_id', field, 'reason')
if not call[1] or call[1] == '' then return false end
if call[2] ~= ARGV[6] or call[3] ~= ARGV[7] then return {'stale'} end
if call[4] and call[4] ~= '' then return false end
redis.call('HSET', KEYS[1], field, ARGV[5])
local value, ttl = tonumber(ARGV[5]), ARGV[8]
local ints
if ARGV[4] == 'csat' then
  ints = {'csat_n', 1, 'csat_points', (value - 1) * 25}
else
  local promoter, detractor = 0, 0
  if value >= 9 then promoter = 1 elseif value <= 6 then detractor = 1 end
  ints = {'nps_n', 1, 'nps_promoters', promoter, 'nps_detractors', detractor}
end
count(KEYS[5], ttl, ints, {})
local n = #ints
for i = 1, n, 2 do
  ints[#ints + 1] = rf(call[5], ints[i])
  ints[#ints + 1] = ints[i + 1]
end
count(KEYS[3], ttl, ints, {})
recent(KEYS[4], ARGV[1], ARGV[9],
       's|' .. ARGV[3] .. '|' .. call[3] .. '|' .. ARGV[4] .. '|' .. ARGV[5])
emit(KEYS[2], ARGV[2], 'survey_answered', ARGV[3], call[3], ARGV[1],
     {'queue', call[2], 'question', ARGV[4], 'answer', ARGV[5], 'reason', call[5] or ''})
return redis.call('HGETALL', KEYS[1])
