-- ARGV: event id, retention ms.
redis.call('SREM', K_EVENTS, ARGV[1])
if redis.call('HGET', K_META, 'closed') == '1' then return 0 end
redis.call('HSET', K_META, 'closed', '1', 'soldout', '1')
redis.call('HINCRBY', K_META, 'version', 1)
for i = 1, N_EVENT_KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
return 1
