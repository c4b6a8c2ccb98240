import { SET_TTL_FACTOR } from "./lease-store.ts";

/**
 * The Lua scripts of the Redis lease store. A lease set is a sorted set: member = lease id (the
 * request id), score = expiry instant in ms by the server's clock. Redis runs a script atomically,
 * so the count-then-add of ACQUIRE cannot interleave with another instance's: at most `max`
 * unexpired leases are ever held.
 *
 * Both scripts start by removing the set's expired leases (score ≤ now), which is how a lost
 * release is reclaimed, and publish the set's key on the release channel whenever a slot freed
 * (a release, or expired leases removed), so waiting instances retry at once.
 *
 * TIME before writes is allowed: Redis 7 replicates a script's effects, not the script.
 */

/**
 * KEYS[1] the lease set; ARGV: lease id, max, ttl in ms, release channel, the caller's deadline in
 * ms since the epoch ('' for none).
 * Returns { granted (1/0), held after, expired removed, ms until the earliest lease expires when
 * refused (-1 otherwise), late (1 when refused because the deadline had passed) }.
 *
 * The deadline is compared with Redis's own clock when the script runs: a call that waited in a
 * paused Redis's socket, or behind a slow one, and runs after its caller was answered, takes no
 * lease that no release would ever give back.
 */
export const ACQUIRE_LEASE_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expired = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[3])
local late = 0
if ARGV[5] ~= '' and now >= tonumber(ARGV[5]) then late = 1 end
local granted = 0
-- A lease already held is renewed and still counts once (the same request asking twice).
if late == 0 and (redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2])) then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  -- lease-store.ts SET_TTL_FACTOR: the set outlives its latest lease by one more ttl, so a later
  -- call still finds (and counts) leases whose release never came; then an idle set goes whole.
  local keep = ${SET_TTL_FACTOR} * ttl
  if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], keep) end
  granted = 1
end
if expired > 0 then redis.call('PUBLISH', ARGV[4], KEYS[1]) end
local next_expiry = -1
if granted == 0 then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then next_expiry = math.max(0, tonumber(first[2]) - now) end
end
return { granted, redis.call('ZCARD', KEYS[1]), expired, next_expiry, late }
`;

/**
 * KEYS[1] the lease set; ARGV: lease id, release channel.
 * Returns { released (1/0), held after, expired removed }. An id that is not held (a refused
 * request's, or a second release) removes nothing.
 */
export const RELEASE_LEASE_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expired = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local released = redis.call('ZREM', KEYS[1], ARGV[1])
if released > 0 or expired > 0 then redis.call('PUBLISH', ARGV[2], KEYS[1]) end
return { released, redis.call('ZCARD', KEYS[1]), expired }
`;

/**
 * KEYS[1] the lease set. Returns the leases unexpired at the server's clock (score > now). Read-only:
 * expired leases are counted out, not removed, so asking reclaims nothing and publishes nothing
 * (the next acquire or release removes and reports them). A missing set counts 0.
 */
export const COUNT_LEASES_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`;
