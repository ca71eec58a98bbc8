-- Take a call's lease (take_lease in _lib.lua: unless an instance that is alive holds it).
-- KEYS[1] the call's lease key
-- ARGV[1] owner (instance id), ARGV[2] the lease key's TTL (ms), ARGV[3] instance keys' prefix
-- Returns 1 if the owner holds the lease now, else 0.
if take_lease(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 1 end
return 0
