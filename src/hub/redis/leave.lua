-- ARGV: prefix, sid, slot, gen, node, ack_through, idle_ms, max_age_ms
-- A socket left (a drop): acknowledges what it wrote and frees its slot, if it is still
-- the slot's current socket. Returns how many frames it acknowledged.
local sid, slot, gen, node = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local s = skey(sid)
local h = redis.call('HMGET', s, 'g' .. slot, 'n' .. slot)
if h[1] ~= gen then return 0 end
local acked = ack(sid, slot, tonumber(ARGV[6]))
if h[2] == node then
  redis.call('HSET', s, 'n' .. slot, '')
  redis.call('SREM', nskey(node), sid .. ' ' .. slot .. ' ' .. gen)
  set_deadline(sid, now_ms(), tonumber(ARGV[7]), tonumber(ARGV[8]))
end
return acked
