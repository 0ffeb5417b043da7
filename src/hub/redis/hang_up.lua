-- ARGV: prefix, sid, slot, gen, ended_ttl_ms
-- The participant closed with 1000: ends the session if this is its current socket.
local sid, slot, gen = ARGV[2], ARGV[3], ARGV[4]
if redis.call('HGET', skey(sid), 'g' .. slot) ~= gen then return 0 end
return end_session(sid, 'hang_up', tonumber(ARGV[5]))
