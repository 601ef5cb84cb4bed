-- ARGV: user.
local u = ARGV[1]
local changed = redis.call('ZREM', K_WAIT, u) + redis.call('ZREM', K_ADM, u)
redis.call('ZREM', K_LIVE, u)
redis.call('ZREM', K_USED, u)
redis.call('ZREM', K_PRE, u)
redis.call('ZREM', K_EXP, u)
if changed > 0 then redis.call('HINCRBY', K_META, 'version', 1) end
return changed
