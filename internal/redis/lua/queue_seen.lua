-- ARGV: until ms, users. Unused admissions count against the in-flight
-- cap until at least then.
local n = 0
for i = 2, #ARGV do
  if redis.call('ZSCORE', K_ADM, ARGV[i]) then
    n = n + redis.call('ZADD', K_LIVE, 'GT', 'CH', ARGV[1], ARGV[i])
  end
end
return n
