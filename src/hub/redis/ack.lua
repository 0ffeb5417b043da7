-- ARGV: prefix, then for each socket: sid, slot, gen, ack_through
-- Acknowledges, for each socket still holding its slot (gen), the frames it wrote up to
-- seq ack_through (the batch of one node's acknowledgements no submit carried). Returns
-- how many frames in all.
local total = 0
for i = 2, #ARGV - 3, 4 do
  local sid, slot = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', skey(sid), 'g' .. slot) == ARGV[i + 2] then
    total = total + ack(sid, slot, tonumber(ARGV[i + 3]))
  end
end
return total
