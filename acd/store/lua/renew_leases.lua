-- Renew the leases this instance holds; report the ones another instance holds now.
-- A lease that lapsed without anyone taking it (this instance was slow, e.g. a long pause) is
-- simply taken back: nobody else drives that call.
-- KEYS[1]..KEYS[n] the lease key of each call
-- ARGV[1] owner (instance id), ARGV[2] lease time in ms
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
