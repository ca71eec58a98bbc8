-- Stamp again the lease keys this instance holds (their TTL only clears a dead instance's
-- leftovers: the instance's own key says it is alive); report the ones another holds now.
-- A lease key gone without anyone taking it is simply taken back: nobody else drives it.
-- KEYS[1]..KEYS[n] the lease key of each call
-- ARGV[1] owner (instance id), ARGV[2] the lease keys' TTL in ms
-- Returns the 1-based indexes of KEYS whose lease another instance holds.
local lost = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] or not holder then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    lost[#lost + 1] = i
  end
end
return lost
