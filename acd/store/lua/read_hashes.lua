-- Read many hashes at once (bulk reads: interval counts, agents, calls), for a store with no
-- lane (a TLS URL): through redis-py a pipeline of HGETALLs costs the client one reply to
-- parse per key, which held the service's event loop for tens of milliseconds at a few
-- thousand keys. On the lane (hiredis) plain HGETALLs are read instead: the Lua tables make
-- this script ~3x the Redis time of the same HGETALLs (store/base.py, _flat_hashes).
-- KEYS[1]..KEYS[n] the hashes (callers send a few hundred at a time)
-- ARGV[1] none: no arguments
-- Returns one flat field, value list per key, in KEYS order ({} for a key that does not exist).
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGETALL', key)
end
return out
