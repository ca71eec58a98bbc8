-- An agent in wrap-up gives wrap-up codes (and whether the call was resolved). Nothing is
-- counted here: the codes are counted once, when the wrap-up ends (set_agent_state.lua).
-- KEYS[1] agent hash, KEYS[2] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] agent id, ARGV[4] the call it must be wrapping
-- up ('' = whichever), ARGV[5] codes (JSON list; checked against the queue by store.py's
-- caller), ARGV[6] 'set' (replace the codes) or 'add' (append those not given yet),
-- ARGV[7] resolved: '1', '0', or '' (leave as it is)
-- Returns the agent's HGETALL; nil if it is not wrapping up (that call).
local cur = redis.call('HMGET', KEYS[1], 'state', 'wrap_call', 'wrap_codes', 'wrap_resolved')
if cur[1] ~= 'wrap_up' or (cur[2] or '') == '' then return false end
if ARGV[4] ~= '' and cur[2] ~= ARGV[4] then return false end
local codes = str_list(ARGV[5])
if ARGV[6] == 'add' then
  local have = str_list(cur[3])
  local seen = {}
  for _, c in ipairs(have) do seen[c] = true end
  for _, c in ipairs(codes) do
    if not seen[c] then
      have[#have + 1] = c
      seen[c] = true
    end
  end
  codes = have
end
local resolved = cur[4] or ''
if ARGV[7] ~= '' then resolved = ARGV[7] end
local encoded = '[]'
if #codes > 0 then encoded = cjson.encode(codes) end
redis.call('HSET', KEYS[1], 'wrap_codes', encoded, 'wrap_resolved', resolved)
emit(KEYS[2], ARGV[2], 'wrapup_coded', cur[2], ARGV[3], ARGV[1],
     {'codes', encoded, 'resolved', resolved})
return redis.call('HGETALL', KEYS[1])
