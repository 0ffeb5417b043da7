-- ARGV: prefix, node, client
-- A socket of `client` held by `node` ended: gives back its place in the per-address
-- count (see admit.lua). Returns what the node still counts for the client.
local node, client = ARGV[2], ARGV[3]
local ck = P .. 'ip:' .. client
local left = redis.call('HINCRBY', ck, node, -1)
if left <= 0 then
  redis.call('HDEL', ck, node)
  redis.call('SREM', P .. 'nip:' .. node, client)
end
return left
