-- ARGV: prefix, node, heartbeat_ttl_ms, ended_ttl_ms, idle_ms, max_age_ms, limit
-- One node's heartbeat, then one pass of the shared sweeper: the sockets of nodes whose
-- heartbeat stopped count as dropped; sessions past their deadline end. Returns
-- {was_registered, dropped, sid, reason, ...}.
local node, ttl = ARGV[2], tonumber(ARGV[3])
local ended_ttl, idle_ms, max_age_ms, limit =
  tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_ms()
local registered = 1
if redis.call('ZSCORE', NODES, node) == false then registered = 0 end
redis.call('ZADD', NODES, now + ttl, node)
local dropped = 0
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', NODES, '-inf', now, 'LIMIT', 0, 10)) do
  for _, sock in ipairs(redis.call('SMEMBERS', nskey(dead))) do
    local sid, slot, gen = string.match(sock, '^(%S+) (%d) (%d+)$')
    if sid then
      local s = skey(sid)
      local h = redis.call('HMGET', s, 'g' .. slot, 'n' .. slot)
      if h[1] == gen and h[2] == dead then
        redis.call('HSET', s, 'n' .. slot, '')
        set_deadline(sid, now, idle_ms, max_age_ms)
        dropped = dropped + 1
      end
    end
  end
  redis.call('DEL', nskey(dead))
  -- Its sockets no longer count against their addresses (admit.lua).
  for _, client in ipairs(redis.call('SMEMBERS', P .. 'nip:' .. dead)) do
    redis.call('HDEL', P .. 'ip:' .. client, dead)
  end
  redis.call('DEL', P .. 'nip:' .. dead)
  redis.call('ZREM', NODES, dead)
end
local out = {registered, dropped}
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', now, 'LIMIT', 0, limit)) do
  local created = tonumber(redis.call('HGET', skey(sid), 'created') or 0)
  local reason = 'idle_timeout'
  if created + max_age_ms <= now then reason = 'max_age' end
  if end_session(sid, reason, ended_ttl) == 1 then
    out[#out + 1] = sid
    out[#out + 1] = reason
  end
end
return out
