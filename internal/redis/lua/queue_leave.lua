-- ARGV: user, event id.
local u = ARGV[1]
local t = redis.call('ZSCORE', K_ADM, u) or redis.call('ZSCORE', K_USED, u)
if t then redis.call('ZADD', K_REVOKED, 'GT', t, ARGV[2] .. ' ' .. u) end
local changed = redis.call('ZREM', K_WAIT, u) + redis.call('ZREM', K_ADM, u)
redis.call('ZREM', K_LIVE, u)
redis.call('ZREM', K_USED, u)
redis.call('ZREM', K_PRE, u)
redis.call('ZREM', K_EXP, u)
if changed > 0 then redis.call('HINCRBY', K_META, 'version', 1) end
return changed
