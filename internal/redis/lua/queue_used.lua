-- ARGV: now ms, users. Moves unexpired admissions to the used set.
local now = tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV do
  local t = redis.call('ZSCORE', K_ADM, ARGV[i])
  if t and tonumber(t) > now then
    redis.call('ZREM', K_ADM, ARGV[i])
    redis.call('ZREM', K_LIVE, ARGV[i])
    redis.call('ZADD', K_USED, t, ARGV[i])
    n = n + 1
  end
end
return n
