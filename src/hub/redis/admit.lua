-- ARGV: prefix, node, client, network, sid or '', max_sockets, sessions_per_minute
-- The per-address limits across all nodes (PROTOCOL.md §6): counts one more socket of
-- `client` (held by `node`), and one new session of `network` if `sid` names neither an
-- active nor an ended session, refusing (changing nothing) past either bound. Keys:
-- <P>ip:<client> sockets per node; <P>nip:<node> the clients a node counts (so that a
-- dead node's counts can be dropped); <P>ipn:<network> a token bucket of new sessions,
-- in 1/60000 of a token, refilling per_minute of them each millisecond.
-- Returns 'ok', 'sockets' or 'sessions'.
local node, client, network, sid = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local max_sockets, per_minute = tonumber(ARGV[6]), tonumber(ARGV[7])
local ck = P .. 'ip:' .. client
local total = 0
for _, n in ipairs(redis.call('HVALS', ck)) do total = total + tonumber(n) end
if total >= max_sockets then return 'sockets' end
if sid ~= '' and redis.call('EXISTS', skey(sid)) == 0 and redis.call('EXISTS', ekey(sid)) == 0 then
  local unit = 60000
  local capacity = per_minute * unit
  local nk = P .. 'ipn:' .. network
  local b = redis.call('HMGET', nk, 'credit', 'at')
  local now = now_ms()
  local credit = tonumber(b[1] or capacity)
  local at = tonumber(b[2] or now)
  if now > at then credit = math.min(capacity, credit + (now - at) * per_minute) end
  if credit < unit then return 'sessions' end
  redis.call('HSET', nk, 'credit', credit - unit, 'at', math.max(now, at))
  -- Full again within a minute: forgotten then.
  redis.call('PEXPIRE', nk, unit)
end
redis.call('HINCRBY', ck, node, 1)
redis.call('SADD', P .. 'nip:' .. node, client)
return 'ok'
