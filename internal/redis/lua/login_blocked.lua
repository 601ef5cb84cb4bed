-- KEYS: failure counter. ARGV: max failures.
-- The ms until the window ends when the counter has reached max, else 0.
-- A counter without an expiry (never written by login_failed.lua) does not
-- block: the next failure gives it one.
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n < tonumber(ARGV[1]) then
  return 0
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then
  return 0
end
return ttl
