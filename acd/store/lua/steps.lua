-- Several prepared steps in one call (StoreBase.run_prepared), each as its own script would
-- run it, in order: one reply to parse instead of one per step. STEPS (above, built by
-- base.py) holds each step script's body as a function of its own KEYS and ARGV.
-- KEYS[1].. every step's keys, in order.
-- ARGV[1] the number of steps n; ARGV[3i-1], ARGV[3i], ARGV[3i+1]: step i's script name, its
-- number of keys and of arguments; then every step's arguments, in order.
-- Returns one reply per step: its own, or its error. A step that fails does not stop those
-- after it (as when each went alone in a pipeline); none is undone (as there).
local n = tonumber(ARGV[1])
local out = {}
local k, a = 0, 1 + 3 * n
for i = 1, n do
  local run = STEPS[ARGV[3 * i - 1]]
  local nk, na = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  local keys, args = {}, {}
  for j = 1, nk do keys[j] = KEYS[k + j] end
  for j = 1, na do args[j] = ARGV[a + j] end
  k, a = k + nk, a + na
  if run == nil then
    out[i] = {err = 'ERR no step script ' .. tostring(ARGV[3 * i - 1])}
  else
    local ok, reply = pcall(run, keys, args)
    if not ok then
      if type(reply) == 'table' and reply.err then
        out[i] = reply  -- a redis.call that failed: its error as Redis gave it
      else
        out[i] = {err = 'ERR ' .. tostring(reply)}
      end
    elseif reply == nil then
      out[i] = false  -- (a nil would end the list here)
    else
      out[i] = reply
    end
  end
end
return out
