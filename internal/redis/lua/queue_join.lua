-- ARGV: user, presale (1/0), now ms, event id.
local u = ARGV[1]
redis.call('SADD', K_EVENTS, ARGV[4])
if redis.call('HDEL', K_META, 'closed') == 1 then
  for i = 1, N_EVENT_KEYS do redis.call('PERSIST', KEYS[i]) end
end
local e = entry(u)
if e[1] == 0 or e[1] == 4 then
  redis.call('ZREM', K_EXP, u)
  if ARGV[2] == '1' and redis.call('HGET', K_META, 'opened') ~= '1' then
    redis.call('ZADD', K_PRE, ARGV[3], u)
  else
    -- After the draw: behind the drawn pool (scores 1..n), first come,
    -- first served.
    local seq = redis.call('HINCRBY', K_META, 'seq', 1)
    redis.call('ZADD', K_WAIT, 1099511627776 + seq, u)
  end
  e = entry(u)
end
local out = info()
out[#out + 1] = e[1]
out[#out + 1] = e[2]
return out
