-- ARGV: prefix, sid, peer, node, max_sessions, idle_ms, max_age_ms
-- Returns {status, slot, gen, created, new_participant, replaced}; status is ok, ended,
-- full or overloaded.
local sid, peer, node = ARGV[2], ARGV[3], ARGV[4]
local max_sessions, idle_ms, max_age_ms = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if redis.call('EXISTS', ekey(sid)) == 1 then return {'ended', 0, 0, 0, 0, 0} end
local s = skey(sid)
local now = now_ms()
local created = 0
if redis.call('EXISTS', s) == 0 then
  if redis.call('ZCARD', ACTIVE) >= max_sessions then return {'overloaded', 0, 0, 0, 0, 0} end
  redis.call('HSET', s, 'created', now, 'qm', 0, 'qb', 0, 'seq0', 0, 'seq1', 0)
  -- A bound on the keys' life even if no node sweeps any more.
  redis.call('PEXPIRE', s, max_age_ms + 60000)
  created = 1
end
local p = redis.call('HMGET', s, 'p0', 'p1')
local slot
if p[1] == peer then slot = 0
elseif p[2] == peer then slot = 1
elseif not p[1] then slot = 0; redis.call('HSET', s, 'p0', peer)
elseif not p[2] then slot = 1; redis.call('HSET', s, 'p1', peer)
else return {'full', 0, 0, 0, 0, 0} end
local new_participant = 0
if p[slot + 1] ~= peer then new_participant = 1 end
local old = redis.call('HMGET', s, 'n' .. slot, 'g' .. slot)
local gen = redis.call('HINCRBY', s, 'g' .. slot, 1)
redis.call('HSET', s, 'n' .. slot, node)
redis.call('SADD', nskey(node), sid .. ' ' .. slot .. ' ' .. gen)
local replaced = 0
if connected(old[1]) then
  replaced = 1
  redis.call('SREM', nskey(old[1]), sid .. ' ' .. slot .. ' ' .. old[2])
  redis.call('PUBLISH', wchan(old[1]), sid .. ' ' .. slot)
end
set_deadline(sid, now, idle_ms, max_age_ms)
return {'ok', slot, gen, created, new_participant, replaced}
