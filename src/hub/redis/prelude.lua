-- Shared by every HomeCall hub script (prepended to each). ARGV[1] is the key prefix.
-- Keys: <P>s:<sid> session hash (p0 p1 peers, g0 g1 generations, n0 n1 nodes holding
-- the current sockets or '', i0 i1 invalid counts, created, idle, qm qb queued frames and
-- bytes, seq0 seq1 the last frame numbers of each slot's stream); <P>q:<sid>:<slot> the
-- stream of frames waiting for a slot (ids 0-<seq>, one apart);
-- <P>e:<sid> an ended id (its reason); <P>active sessions by deadline; <P>nodes nodes by
-- heartbeat deadline; <P>ns:<node> the sockets a node holds ('<sid> <slot> <gen>');
-- <P>qbytes what all queues hold; channel <P>w:<node> wakes a node ('<sid> <slot>') or
-- carries frames to it (records '<sid> <slot> <gen> <seq> <kind> <len> <text>' back to
-- back, see submit.lua and wake.rs);
-- the per-address counts <P>ip:<client>, <P>nip:<node>, <P>ipn:<network> (admit.lua);
-- <P>turn:<client> TURN credentials handed out (budget.lua).
local P = ARGV[1]
local ACTIVE = P .. 'active'
local NODES = P .. 'nodes'
local QBYTES = P .. 'qbytes'
local FRAME_OVERHEAD = 64

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function skey(sid) return P .. 's:' .. sid end
local function qkey(sid, slot) return P .. 'q:' .. sid .. ':' .. slot end
local function ekey(sid) return P .. 'e:' .. sid end
local function nskey(node) return P .. 'ns:' .. node end
local function wchan(node) return P .. 'w:' .. node end
local function connected(node) return node and node ~= '' end

-- The session's deadline in ACTIVE: its maximum age, or sooner its idle timeout while
-- nobody is connected.
local function set_deadline(sid, now, idle_ms, max_age_ms)
  local s = skey(sid)
  local h = redis.call('HMGET', s, 'created', 'n0', 'n1', 'idle')
  local deadline = tonumber(h[1] or now) + max_age_ms
  if connected(h[2]) or connected(h[3]) then
    redis.call('HDEL', s, 'idle')
  else
    local idle = tonumber(h[4] or now)
    if not h[4] then redis.call('HSET', s, 'idle', now) end
    deadline = math.min(deadline, idle + idle_ms)
  end
  redis.call('ZADD', ACTIVE, deadline, sid)
end

-- Ends a session: remembers its id, wakes the nodes of its sockets, deletes its keys.
local function end_session(sid, reason, ended_ttl_ms)
  redis.call('ZREM', ACTIVE, sid)
  if redis.call('EXISTS', ekey(sid)) == 1 then return 0 end
  redis.call('SET', ekey(sid), reason, 'PX', ended_ttl_ms)
  local s = skey(sid)
  local h = redis.call('HMGET', s, 'n0', 'n1', 'g0', 'g1', 'qm', 'qb')
  for slot = 0, 1 do
    local node = h[slot + 1]
    if connected(node) then
      redis.call('SREM', nskey(node), sid .. ' ' .. slot .. ' ' .. h[slot + 3])
      redis.call('PUBLISH', wchan(node), sid .. ' ' .. slot)
    end
  end
  local qm = tonumber(h[5] or 0)
  if qm > 0 then
    redis.call('DECRBY', QBYTES, tonumber(h[6] or 0) + FRAME_OVERHEAD * qm)
  end
  redis.call('DEL', s, qkey(sid, 0), qkey(sid, 1))
  return 1
end

-- Deletes every frame of slot's queue up to seq `through` (written by its current
-- socket) from the stream only; returns how many and their bytes. The caller settles
-- the counts.
local function remove_through(sid, slot, through)
  if not through or through <= 0 then return 0, 0 end
  local q = qkey(sid, slot)
  local done = redis.call('XRANGE', q, '-', '0-' .. through)
  if #done == 0 then return 0, 0 end
  local ids, bytes = {}, 0
  for i, entry in ipairs(done) do
    ids[i] = entry[1]
    bytes = bytes + string.len(entry[2][4])
  end
  redis.call('XDEL', q, unpack(ids))
  return #done, bytes
end

-- Removes every frame of slot's queue up to seq `through` and settles the session's and
-- the hub's counts; returns how many.
local function ack(sid, slot, through)
  local count, bytes = remove_through(sid, slot, through)
  if count == 0 then return 0 end
  local s = skey(sid)
  redis.call('HINCRBY', s, 'qm', -count)
  redis.call('HINCRBY', s, 'qb', -bytes)
  redis.call('DECRBY', QBYTES, bytes + FRAME_OVERHEAD * count)
  return count
end

-- Takes one token from the per-minute budget kept in hash `key` (a token bucket in
-- 1/60000 of a token, refilling per_minute of them each millisecond, forgotten once full
-- again); false, changing nothing, if less than one is left.
local function take_token(key, per_minute)
  local unit = 60000
  local capacity = per_minute * unit
  local b = redis.call('HMGET', key, 'credit', 'at')
  local now = now_ms()
  local credit = tonumber(b[1] or capacity)
  local at = tonumber(b[2] or now)
  if now > at then credit = math.min(capacity, credit + (now - at) * per_minute) end
  if credit < unit then return false end
  redis.call('HSET', key, 'credit', credit - unit, 'at', math.max(now, at))
  redis.call('PEXPIRE', key, unit)
  return true
end
