//! The Lua scripts of the Redis store. Redis runs a script atomically:
//! no other client's command falls between its check of a session's owner
//! and its change of the session's records.

/// Appends to a session's journal (or starts it), if this node owns it.
/// KEYS: owner, journal. ARGV: me, create (`1`/`0`), keep (`-1`: all),
/// ttl (ms), entries... Answers 1 if written, 0 if another node owns it.
pub(super) const WRITE: &str = r"
local me, ttl = ARGV[1], ARGV[4]
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], me, 'PX', ttl)
  redis.call('DEL', KEYS[2])
elseif redis.call('GET', KEYS[1]) ~= me then
  return 0
end
-- RPUSH in slices: Lua's unpack has a limit of a few thousand values.
local n = #ARGV
for i = 5, n, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, n)))
end
local keep = tonumber(ARGV[3])
if keep == 0 then
  redis.call('DEL', KEYS[2])
elseif keep > 0 then
  redis.call('LTRIM', KEYS[2], -keep, -1)
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
";

/// Makes this node the owner of a session still owned by `from`.
/// KEYS: owner, journal. ARGV: from, me, ttl (ms). Answers 1 or 0.
pub(super) const CLAIM: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
";

/// Renews (`touch`) or deletes (`remove`) the records of the sessions this
/// node owns, leaving the others'. KEYS: owner, journal of each session.
/// ARGV: me, ttl (ms), `touch` or `remove`. Answers how many it changed.
pub(super) const OWN: &str = r"
local done = 0
for i = 1, #KEYS, 2 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    if ARGV[3] == 'remove' then
      redis.call('DEL', KEYS[i], KEYS[i + 1])
    else
      redis.call('PEXPIRE', KEYS[i], ARGV[2])
      redis.call('PEXPIRE', KEYS[i + 1], ARGV[2])
    end
    done = done + 1
  end
end
return done
";

/// Deletes the address record of a node whose liveness key is gone.
/// KEYS: liveness key, address record. Answers 1 if deleted, 0 if there
/// was none, -1 if the liveness key is there (the record is kept).
pub(super) const FORGET: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  return -1
end
return redis.call('DEL', KEYS[2])
";
