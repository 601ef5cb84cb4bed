-- ARGV: owner, now ms, max, limit (-1 none), until ms, soldout (1/0),
-- pace, event id, expired retention ms, live until ms (0: until).
-- Returns {-1} when not the coordinator, else info..., first, expired,
-- admitted users....
if redis.call('GET', K_LEASE) ~= ARGV[1] then return {-1} end
local now = tonumber(ARGV[2])
local changed = false
local gone = redis.call('ZRANGEBYSCORE', K_ADM, '-inf', now)
for _, u in ipairs(gone) do
  redis.call('ZADD', K_EXP, now, u)
  redis.call('ZREM', K_LIVE, u)
end
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', K_ADM, '-inf', now)
  changed = true
end
redis.call('ZREMRANGEBYSCORE', K_USED, '-inf', now)
redis.call('ZREMRANGEBYSCORE', K_EXP, '-inf', now - tonumber(ARGV[9]))
redis.call('ZREMRANGEBYSCORE', K_REVOKED, '-inf', now)
local so = ARGV[6]
if (redis.call('HGET', K_META, 'soldout') or '0') ~= so then
  redis.call('HSET', K_META, 'soldout', so)
  changed = true
end
redis.call('HSET', K_META, 'pace', ARGV[7])
local first = 0
local admitted = {}
local live = redis.call('ZCOUNT', K_LIVE, '(' .. now, '+inf')
local liveUntil = ARGV[10]
if liveUntil == '0' then liveUntil = ARGV[5] end
if redis.call('HGET', K_META, 'opened') == '1' and so == '0' then
  local n = tonumber(ARGV[3])
  local limit = tonumber(ARGV[4])
  if limit >= 0 then n = math.min(n, limit - live) end
  if n > 0 then
    local popped = redis.call('ZPOPMIN', K_WAIT, n)
    for i = 1, #popped, 2 do
      admitted[#admitted + 1] = popped[i]
      redis.call('ZADD', K_ADM, ARGV[5], popped[i])
      redis.call('ZADD', K_LIVE, liveUntil, popped[i])
      redis.call('ZREM', K_REVOKED, ARGV[8] .. ' ' .. popped[i])
    end
    if tonumber(liveUntil) > now then live = live + #admitted end
    if #admitted > 0 then
      first = redis.call('HINCRBY', K_META, 'admitted', #admitted) - #admitted + 1
      changed = true
    end
  end
end
redis.call('HSET', K_META, 'live', live)
if changed then redis.call('HINCRBY', K_META, 'version', 1) end
if redis.call('ZCARD', K_PRE) + redis.call('ZCARD', K_WAIT) + redis.call('ZCARD', K_ADM) + redis.call('ZCARD', K_USED) == 0 then
  redis.call('SREM', K_EVENTS, ARGV[8])
end
local out = info()
out[#out + 1] = first
out[#out + 1] = #gone
for _, u in ipairs(admitted) do out[#out + 1] = u end
return out
