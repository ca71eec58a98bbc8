-- An instance is alive: its key set again for ARGV[2] ms, and its id in the set of instances
-- (where the others look for a lapsed one).
-- KEYS[1] the instance's key, KEYS[2] the set of instances
-- ARGV[1] the instance id, ARGV[2] TTL (ms)
-- Returns 1 if the key was still there, 0 if it had lapsed (or is new): the instance may have
-- lost calls to another meanwhile, and checks every lease it holds.
local alive = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return alive
