-- ARGV: prefix, node, client, network, sid or '', max_sockets, sessions_per_minute
-- The per-address limits across all nodes (PROTOCOL.md §6): counts one more socket of
-- `client` (held by `node`), and one new session of `network` if `sid` names neither an
-- active nor an ended session, refusing (changing nothing) past either bound. Keys:
-- <P>ip:<client> sockets per node; <P>nip:<node> the clients a node counts (so that a
-- dead node's counts can be dropped); <P>ipn:<network> a token bucket of new sessions
-- (take_token in prelude.lua).
-- Returns 'ok', 'sockets' or 'sessions'.
local node, client, network, sid = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local max_sockets, per_minute = tonumber(ARGV[6]), tonumber(ARGV[7])
local ck = P .. 'ip:' .. client
local total = 0
for _, n in ipairs(redis.call('HVALS', ck)) do total = total + tonumber(n) end
if total >= max_sockets then return 'sockets' end
if sid ~= '' and redis.call('EXISTS', skey(sid)) == 0 and redis.call('EXISTS', ekey(sid)) == 0
  and not take_token(P .. 'ipn:' .. network, per_minute) then
  return 'sessions'
end
redis.call('HINCRBY', ck, node, 1)
redis.call('SADD', P .. 'nip:' .. node, client)
return 'ok'
