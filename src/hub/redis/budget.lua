-- ARGV: prefix, client, per_minute
-- Counts one TURN credential for `client` across all nodes; 1, or 0 (changing nothing)
-- once `per_minute` were handed out within the last minute (a token bucket, see
-- take_token in prelude.lua).
if take_token(P .. 'turn:' .. ARGV[2], tonumber(ARGV[3])) then return 1 end
return 0
