-- Create a call in state ivr, unless its id exists (a replayed AsyncAGIStart).
-- KEYS[1] call hash, KEYS[2] live call set, KEYS[3] events stream
-- ARGV[1] now, ARGV[2] events maxlen, ARGV[3] call id, ARGV[4..] field, value pairs
-- Returns 1 if created, 0 if the id existed (nothing changed, no event).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
hset(KEYS[1], argv_from(4))
redis.call('SADD', KEYS[2], ARGV[3])
emit(KEYS[3], ARGV[2], 'call_created', ARGV[3], '', ARGV[1],
     {'state', 'ivr', 'caller_num', redis.call('HGET', KEYS[1], 'caller_num') or '',
      'dnis', redis.call('HGET', KEYS[1], 'dnis') or ''})
return 1
