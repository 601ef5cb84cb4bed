-- Shared prelude of the waiting-room scripts (prepended to each).
-- KEYS: 1 pre-sale pool (zset user -> join ms), 2 line (zset user -> order),
-- 3 admitted (zset user -> admission end ms), 4 used admissions (same),
-- 5 expired admissions (zset user -> expiry ms), 6 meta (hash),
-- 7 live admissions (zset user -> until when an unused admission counts
-- against the in-flight cap, ms), 8 events with queues (set),
-- 9 coordinator lease (string), 10 admissions revoked by leaving, of every
-- event (zset "event user" -> when the admission would have ended, ms).
-- Keys 1-7 are the event's own.
local K_PRE, K_WAIT, K_ADM, K_USED, K_EXP, K_META, K_LIVE = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local K_EVENTS, K_LEASE, K_REVOKED = KEYS[8], KEYS[9], KEYS[10]
local N_EVENT_KEYS = 7

-- entry returns {state, n}: 0 absent; 1 pre-sale; 2 waiting, n = position;
-- 3 admitted, n = admission end (ms); 4 expired.
local function entry(u)
  local t = redis.call('ZSCORE', K_ADM, u)
  if t then return {3, t} end
  t = redis.call('ZSCORE', K_USED, u)
  if t then return {3, t} end
  local r = redis.call('ZRANK', K_WAIT, u)
  if r then return {2, r + 1} end
  if redis.call('ZSCORE', K_PRE, u) then return {1, 0} end
  if redis.call('ZSCORE', K_EXP, u) then return {4, 0} end
  return {0, 0}
end

-- info returns opened, soldout, pace, version, pool, line, admitted, used,
-- live (at the last round).
local function info()
  local m = redis.call('HMGET', K_META, 'opened', 'soldout', 'pace', 'version', 'live')
  return {m[1] or '0', m[2] or '0', m[3] or '0', m[4] or '0',
    redis.call('ZCARD', K_PRE), redis.call('ZCARD', K_WAIT),
    redis.call('ZCARD', K_ADM), redis.call('ZCARD', K_USED), m[5] or '0'}
end
