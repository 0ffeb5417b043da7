-- ARGV: prefix, sid, slot, gen, ack_through, after, count
-- Acknowledges the frames the socket wrote (up to seq ack_through), then reads the next
-- ones after seq `after`. Returns {'ok', acked, seq, kind, text, ...}, {'ended', reason}
-- or {'replaced'}.
local sid, slot, gen = ARGV[2], ARGV[3], ARGV[4]
local reason = redis.call('GET', ekey(sid))
if reason then return {'ended', reason} end
local g = redis.call('HGET', skey(sid), 'g' .. slot)
if not g then return {'ended', 'idle_timeout'} end
if g ~= gen then return {'replaced'} end
local out = {'ok', ack(sid, slot, tonumber(ARGV[5]))}
local entries = redis.call('XRANGE', qkey(sid, slot), '(0-' .. ARGV[6], '+', 'COUNT', ARGV[7])
for _, entry in ipairs(entries) do
  out[#out + 1] = string.sub(entry[1], 3)
  out[#out + 1] = entry[2][2]
  out[#out + 1] = entry[2][4]
end
return out
