-- ARGV: prefix, sid, from_slot, gen, kind, text, queue_messages, queue_bytes,
-- max_queued_bytes, max_age_ms, ack_through
-- First acknowledges the frames the sender's socket wrote to its own client (up to seq
-- ack_through; 0 for none), then stores the frame for the other slot and carries it to
-- that slot's node in the wake-up. The stream stays the record: the recipient writes
-- the carried frame only if it is the next one it expects, else reads the stream.
-- Returns {status, recipient_connected, waiting, acked}; status is ok, ended, replaced
-- or full.
-- This runs once per relayed frame: slots stay strings and each number is turned into
-- text at most once (Lua's number-to-text conversion is a sprintf).
local sid, from, gen = ARGV[2], ARGV[3], ARGV[4]
local kind, text = ARGV[5], ARGV[6]
local s = skey(sid)
local to = '1'
if from == '1' then to = '0' end
local h = redis.call('HMGET', s, 'g' .. from, 'qm', 'qb', 'n' .. to, 'g' .. to, 'seq' .. to)
-- An ended session's hash is gone (end_session deletes it, or it expired).
if not h[1] then return {'ended', 0, 0, 0} end
if h[1] ~= gen then return {'replaced', 0, 0, 0} end
local acked, acked_bytes = 0, 0
if ARGV[11] ~= '0' then acked, acked_bytes = remove_through(sid, from, tonumber(ARGV[11])) end
local qm, qb = tonumber(h[2]) - acked, tonumber(h[3]) - acked_bytes
local freed = acked_bytes + FRAME_OVERHEAD * acked
local len = string.len(text)
local cost = len + FRAME_OVERHEAD
local full = qm + 1 > tonumber(ARGV[7]) or qb + len > tonumber(ARGV[8])
if not full and redis.call('INCRBY', QBYTES, cost - freed) > tonumber(ARGV[9]) then
  redis.call('DECRBY', QBYTES, cost)
  freed = 0
  full = true
end
if full then
  if acked > 0 then
    redis.call('HSET', s, 'qm', qm, 'qb', qb)
    if freed > 0 then redis.call('DECRBY', QBYTES, freed) end
  end
  return {'full', 0, 0, acked}
end
local seq = tostring(tonumber(h[6] or 0) + 1)
local q = qkey(sid, to)
redis.call('XADD', q, '0-' .. seq, 'k', kind, 't', text)
redis.call('HSET', s, 'seq' .. to, seq, 'qm', qm + 1, 'qb', qb + len)
local waiting = redis.call('XLEN', q)
-- A bound on the stream's life even if no node sweeps any more (set when it fills
-- from empty, which it does at least once per session).
if waiting == 1 then redis.call('PEXPIRE', q, tonumber(ARGV[10]) + 60000) end
local recipient = 0
if connected(h[4]) then
  recipient = 1
  redis.call('PUBLISH', wchan(h[4]), sid .. ' ' .. to .. ' ' .. h[5] .. ' ' .. seq .. ' ' .. kind .. ' ' .. text)
end
return {'ok', recipient, waiting, acked}
