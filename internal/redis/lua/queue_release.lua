-- ARGV: owner, then the pool in drawn order.
-- Returns -1 not the coordinator, 0 the pool changed, 1 open.
if redis.call('GET', K_LEASE) ~= ARGV[1] then return -1 end
if redis.call('HGET', K_META, 'opened') == '1' then return 1 end
if redis.call('ZCARD', K_PRE) ~= #ARGV - 1 then return 0 end
for i = 2, #ARGV do
  if not redis.call('ZSCORE', K_PRE, ARGV[i]) then return 0 end
end
for i = 2, #ARGV do
  redis.call('ZADD', K_WAIT, i - 1, ARGV[i])
end
redis.call('DEL', K_PRE)
redis.call('HSET', K_META, 'opened', '1')
redis.call('HINCRBY', K_META, 'version', 1)
return 1
