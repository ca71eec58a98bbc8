-- Create a call in state ivr, unless its id exists (a replayed AsyncAGIStart). With KEYS[4],
-- first take the call's lease for ARGV[4] (take_lease: unless an instance that is alive holds
-- it): every instance attached to the PBX gets the AsyncAGIStart, and one of them drives the
-- call; the lease and the call in one round trip, while the caller waits.
-- KEYS[1] call hash, KEYS[2] live call set, KEYS[3] events stream, KEYS[4] (optional) lease
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id; with KEYS[4], ARGV[4] the owner,
-- ARGV[5] the lease key's TTL (ms) and ARGV[6] the instance keys' prefix; then field, value
-- pairs
-- Returns 1 if created, 0 if the id existed (nothing changed, no event); 'leased' if another
-- instance holds the lease (nothing changed).
local fields = 4
if KEYS[4] then
  fields = 7
  if not take_lease(KEYS[4], ARGV[4], ARGV[5], ARGV[6]) then return 'leased' end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
hset(KEYS[1], argv_from(fields))
redis.call('SADD', KEYS[2], ARGV[3])
emit(KEYS[3], ARGV[2], 'call_created', ARGV[3], '', ARGV[1],
     {'state', 'ivr', 'caller_num', redis.call('HGET', KEYS[1], 'caller_num') or '',
      'dnis', redis.call('HGET', KEYS[1], 'dnis') or ''})
return 1
