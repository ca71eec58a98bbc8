-- Read many hashes at once (bulk reads: interval counts, agents, calls). Not a change: it
-- exists because a pipeline of HGETALLs costs the client one reply to parse per key, which
-- held the service's event loop for tens of milliseconds at a few thousand keys.
-- KEYS[1]..KEYS[n] the hashes (callers send a few hundred at a time)
-- ARGV[1] none: no arguments
-- Returns one flat field, value list per key, in KEYS order ({} for a key that does not exist).
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGETALL', key)
end
return out
