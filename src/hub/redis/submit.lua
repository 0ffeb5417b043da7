-- ARGV: prefix, queue_messages, queue_bytes, max_queued_bytes, max_age_ms, then for each
-- frame of the batch seven: sid, from_slot, gen, kind, text, its length, ack_through
-- One node's submits, in the order its sockets made them (a socket has at most one in a
-- batch). For each frame: first acknowledges the frames the sender's socket wrote to its
-- own client (up to seq ack_through; 0 for none), then stores the frame for the other
-- slot and carries it to that slot's node in the wake-up. The stream stays the record:
-- the recipient writes a carried frame only if it is the next one it expects, else reads
-- the stream. Each recipient node gets one PUBLISH for all its frames of the batch, and
-- the hub-wide byte count is read once and written once.
-- Returns, for each frame, {status, recipient_connected, waiting, acked} flattened;
-- status is ok, ended, replaced or full.
-- This runs for every relayed frame, so it keeps the work per byte of text low: Redis's
-- Lua hashes every byte of every string it makes, so the text enters Lua once (as its
-- argument) and is never concatenated into another string (a wake-up is a table of
-- parts joined once per node). Slots and lengths stay strings and each number is turned
-- into text at most once (Lua's number-to-text conversion is a sprintf).
local queue_messages, queue_bytes = tonumber(ARGV[2]), tonumber(ARGV[3])
local max_queued_bytes, expire_ms = tonumber(ARGV[4]), tonumber(ARGV[5]) + 60000
local total = tonumber(redis.call('GET', QBYTES) or 0)
local total_before = total
local out = {}
-- Per recipient node, the parts of the records its wake-up carries (see wake.rs for the
-- format).
local carried, nodes = {}, {}

local function submit(sid, from, gen, kind, text, size, ack_through)
  local s = skey(sid)
  local to = '1'
  if from == '1' then to = '0' end
  local h = redis.call('HMGET', s, 'g' .. from, 'qm', 'qb', 'n' .. to, 'g' .. to, 'seq' .. to)
  -- An ended session's hash is gone (end_session deletes it, or it expired).
  if not h[1] then return 'ended', 0, 0, 0 end
  if h[1] ~= gen then return 'replaced', 0, 0, 0 end
  local acked, acked_bytes = 0, 0
  if ack_through ~= '0' then acked, acked_bytes = remove_through(sid, from, tonumber(ack_through)) end
  local qm, qb = tonumber(h[2]) - acked, tonumber(h[3]) - acked_bytes
  total = total - acked_bytes - FRAME_OVERHEAD * acked
  local len = tonumber(size)
  if qm + 1 > queue_messages or qb + len > queue_bytes or total + len + FRAME_OVERHEAD > max_queued_bytes then
    if acked > 0 then redis.call('HSET', s, 'qm', qm, 'qb', qb) end
    return 'full', 0, 0, acked
  end
  total = total + len + FRAME_OVERHEAD
  local seq = tostring(tonumber(h[6] or 0) + 1)
  local q = qkey(sid, to)
  redis.call('XADD', q, '0-' .. seq, 'k', kind, 't', text)
  redis.call('HSET', s, 'seq' .. to, seq, 'qm', qm + 1, 'qb', qb + len)
  local waiting = redis.call('XLEN', q)
  -- A bound on the stream's life even if no node sweeps any more, set when its first
  -- frame creates it: a stream emptied by acknowledgements stays, with its expiry, until
  -- its session ends (end_session deletes it).
  if seq == '1' then redis.call('PEXPIRE', q, expire_ms) end
  local node = h[4]
  if not connected(node) then return 'ok', 0, waiting, acked end
  local parts = carried[node]
  if not parts then
    parts = {}
    carried[node] = parts
    nodes[#nodes + 1] = node
  end
  local n = #parts
  parts[n + 1], parts[n + 2], parts[n + 3], parts[n + 4] = sid, ' ', to, ' '
  parts[n + 5], parts[n + 6], parts[n + 7], parts[n + 8] = h[5], ' ', seq, ' '
  parts[n + 9], parts[n + 10], parts[n + 11], parts[n + 12] = kind, ' ', size, ' '
  parts[n + 13] = text
  return 'ok', 1, waiting, acked
end

for i = 6, #ARGV - 6, 7 do
  local status, recipient, waiting, acked = submit(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6])
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = status, recipient, waiting, acked
end
if total ~= total_before then redis.call('INCRBY', QBYTES, total - total_before) end
for _, node in ipairs(nodes) do
  redis.call('PUBLISH', wchan(node), table.concat(carried[node]))
end
return out
