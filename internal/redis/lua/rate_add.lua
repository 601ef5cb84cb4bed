-- KEYS: one counter. ARGV: the amount to add (0 only reads; a negative
-- amount is a refund, which never takes the count below zero nor starts a
-- window), the window ms. The first event of a window starts it: the
-- counter expires when the window ends. Returns {count, ms left in the
-- window}; {0, 0} for a read of a counter that does not exist.
local n = tonumber(ARGV[1])
local count
if n > 0 then
  count = redis.call('INCRBY', KEYS[1], n)
else
  count = tonumber(redis.call('GET', KEYS[1]) or '0')
  if n < 0 and count > 0 then
    -- DECRBY keeps the counter's expiry.
    count = redis.call('DECRBY', KEYS[1], math.min(-n, count))
  end
end
if count <= 0 then
  return {0, 0}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- A counter without an expiry was never written by this script (or lost
  -- it): give it one rather than let it count for ever.
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
