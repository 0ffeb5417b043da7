-- ARGV: prefix, sid, from_slot, gen, kind, text, queue_messages, queue_bytes,
-- max_queued_bytes, max_age_ms
-- Returns {status, recipient_connected, waiting}; status is ok, ended, replaced or full.
local sid, from, gen = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local text = ARGV[6]
if redis.call('EXISTS', ekey(sid)) == 1 then return {'ended', 0, 0} end
local s = skey(sid)
local to = 1 - from
local h = redis.call('HMGET', s, 'g' .. from, 'qm', 'qb', 'n' .. to)
if not h[1] then return {'ended', 0, 0} end
if h[1] ~= gen then return {'replaced', 0, 0} end
local len = string.len(text)
if tonumber(h[2]) + 1 > tonumber(ARGV[7]) or tonumber(h[3]) + len > tonumber(ARGV[8]) then
  return {'full', 0, 0}
end
local cost = len + FRAME_OVERHEAD
if tonumber(redis.call('GET', QBYTES) or 0) + cost > tonumber(ARGV[9]) then
  return {'full', 0, 0}
end
redis.call('INCRBY', QBYTES, cost)
local seq = redis.call('HINCRBY', s, 'seq', 1)
local q = qkey(sid, to)
redis.call('XADD', q, '0-' .. seq, 'k', ARGV[5], 't', text)
redis.call('PEXPIRE', q, tonumber(ARGV[10]) + 60000)
redis.call('HINCRBY', s, 'qm', 1)
redis.call('HINCRBY', s, 'qb', len)
local recipient = 0
if connected(h[4]) then
  recipient = 1
  redis.call('PUBLISH', wchan(h[4]), sid .. ' ' .. to)
end
return {'ok', recipient, redis.call('XLEN', q)}
