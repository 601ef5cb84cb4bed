-- KEYS: failure counter. ARGV: window ms.
-- Counts one failure; the first one starts the window. Returns the count.
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
