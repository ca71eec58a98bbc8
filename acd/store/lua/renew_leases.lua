-- Renew the leases this instance holds; report the ones it no longer holds.
-- KEYS[1]..KEYS[n] the lease key of each call
-- ARGV[1] owner (instance id), ARGV[2] lease time in ms
-- Returns the 1-based indexes of KEYS whose lease is not (or no longer) ours.
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  else
    lost[#lost + 1] = i
  end
end
return lost
