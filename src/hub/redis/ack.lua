-- ARGV: prefix, then for each socket: sid, slot, gen, ack_through
-- Acknowledges, for each socket still holding its slot (gen), the frames it wrote up to
-- seq ack_through (the batch of one node's acknowledgements no submit carried). Returns
-- how many frames in all.
local total, total_bytes = 0, 0
for i = 2, #ARGV - 3, 4 do
  local sid, slot, gen = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local s = skey(sid)
  local h = redis.call('HMGET', s, 'g' .. slot, 'qm', 'qb')
  if h[1] == gen then
    local count, bytes = remove_through(sid, slot, tonumber(ARGV[i + 3]))
    if count > 0 then
      redis.call('HSET', s, 'qm', tonumber(h[2]) - count, 'qb', tonumber(h[3]) - bytes)
      total, total_bytes = total + count, total_bytes + bytes
    end
  end
end
if total > 0 then redis.call('DECRBY', QBYTES, total_bytes + FRAME_OVERHEAD * total) end
return total
