-- Agent from configuration: overwrite its config fields; create it with the given state fields
-- if new; a known agent keeps its live state. No event when nothing changed.
-- KEYS[1] agent hash, KEYS[2] agent id set, KEYS[3] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] agent id, ARGV[4] n = number of config values
-- (field, value pairs follow: 2n strings), then the state field, value pairs of a new agent
-- Returns the agent's HGETALL.
local n = tonumber(ARGV[4])
local config, state = {}, {}
for i = 5, 4 + 2 * n do config[#config + 1] = ARGV[i] end
for i = 5 + 2 * n, #ARGV do state[#state + 1] = ARGV[i] end
redis.call('SADD', KEYS[2], ARGV[3])
local etype = 'agent_added'
if redis.call('EXISTS', KEYS[1]) == 1 then
  etype = 'agent_updated'
  local same = true
  for i = 1, #config, 2 do
    if redis.call('HGET', KEYS[1], config[i]) ~= config[i + 1] then same = false end
  end
  if same then return redis.call('HGETALL', KEYS[1]) end
else
  hset(KEYS[1], state)
end
hset(KEYS[1], config)
emit(KEYS[3], ARGV[2], etype, '', ARGV[3], ARGV[1],
     {'state', redis.call('HGET', KEYS[1], 'state')})
return redis.call('HGETALL', KEYS[1])
