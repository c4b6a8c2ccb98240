import { SLOT_TTL_MARGIN_MS } from "./counter-key.ts";

/**
 * The Lua scripts of the Redis store. Redis runs a script atomically (no other command interleaves),
 * which is what makes check-then-charge exact across many Sluice instances.
 *
 * CHARGE_SCRIPT — one call per request on a single Redis, one per hash-slot group on a Cluster.
 *   KEYS[i]  the counterKey (base) of the group's i-th descriptor. Only bases are declared: the slot
 *            keys `<base>:<windowMs>:<k>` depend on k, which comes from the server's TIME and so is
 *            known only inside the script. They carry the base's `{hash tag}`, so they hash to the
 *            declared key's Cluster slot and stay on the node the call was routed to.
 *   ARGV     the call's shape table: S, then S shapes, each mode ("enforced" | "shadow"), cost h,
 *            countRejected (1/0), window count n and n pairs of windowMs, limit; then the 1-based
 *            number of each key's shape. A shape is sent once per call however many descriptors
 *            have it (redis-charge-call.ts) and read into numbers once: in a call of many requests,
 *            a descriptor whose shape came before costs one number instead of 4 + 2 per window.
 *   Returns  { nowMs, admitted (1/0), then per window: current, previous, passed (1/0) }, all
 *            integers (Redis truncates Lua numbers in replies, so only whole values are returned).
 *
 * The check mirrors src/limiter/admission.ts (estimate, windowPasses, isAdmitted) operation for
 * operation, in doubles as in JavaScript, so both stores give the same answer at the same instant.
 *
 * `admitted` is decided from what the group sees: refused iff an enforced descriptor here fails.
 * With the whole request in one call that is exactly isAdmitted. In a Cluster group it can only be wrong by admitting (another group
 * may refuse); the store then refunds the tentative charge with REFUND_SCRIPT.
 */
export const CHARGE_SCRIPT = `
local keys = KEYS
${chargeFunction()}
return charge(1, #KEYS, read_shapes(1))
`;

/**
 * CHARGE_MANY_SCRIPT — several whole requests in one call on a single Redis, decided one after
 * another exactly as consecutive CHARGE_SCRIPT calls at the same instant would decide them: each
 * sees the hits the earlier ones charged. It saves the call's own cost per request (EVALSHA, TIME)
 * and, for requests on the same counters (a hot tenant), the reads of slots already read.
 *   KEYS     every request's keys, request after request
 *   ARGV     the shape table of all the requests (as CHARGE_SCRIPT's), the number of requests, then
 *            per request its key count and the shape number of each of its keys.
 *   Returns  one CHARGE_SCRIPT reply per request, in order; a request whose commands failed gets
 *            that error as its reply, and the others still go ahead, as they would on their own.
 */
export const CHARGE_MANY_SCRIPT = `
local keys = KEYS
${chargeFunction()}
${chargeEach("1")}
`;

/**
 * CHARGE_NODE_SCRIPT — CHARGE_MANY_SCRIPT for requests whose keys live on one Cluster master, in
 * several hash slots. A command's declared keys must share one slot, so only KEYS[1] is declared:
 * one of the requests' keys, which routes the call to that master. The keys themselves travel in
 * ARGV. A script without a shebang may touch keys of other slots as long as the node serves them;
 * a key it does not serve (its slot moved or is moving away, or the client's slot map is stale)
 * fails with "non local key". Every key of a request is read before any is written, so such a
 * request has changed nothing; its error comes back as its reply and the store resends it on its
 * own, routed by its own key (redis-counter-store.ts).
 *   KEYS[1]  the routing key
 *   ARGV[1]  the number K of keys; ARGV[2 .. K + 1] the keys, as CHARGE_MANY_SCRIPT's KEYS
 *   then     CHARGE_MANY_SCRIPT's ARGV.
 *   Returns  as CHARGE_MANY_SCRIPT.
 */
export const CHARGE_NODE_SCRIPT = `
local key_total = tonumber(ARGV[1])
local keys = {}
for i = 1, key_total do keys[i] = ARGV[i + 1] end
${chargeFunction()}
${chargeEach("key_total + 2")}
`;

/** Decides, one after another, the requests of a CHARGE_MANY layout whose shape table is at ARGV[first]. */
function chargeEach(first: string): string {
  return `
local replies = {}
local arg = read_shapes(${first})
local first_key = 1
for r = 1, tonumber(argv[arg]) do
  local key_count = tonumber(argv[arg + 1])
  local ok, reply = pcall(charge, first_key, key_count, arg + 2)
  if ok then
    replies[r] = reply
  else
    replies[r] = redis.error_reply(type(reply) == 'table' and reply.err or tostring(reply))
  end
  first_key = first_key + key_count
  arg = arg + 1 + key_count
end
return replies`;
}

/**
 * The decision every charge script makes for one request: its keys are keys[first_key ..
 * first_key + key_count - 1] (`keys` is KEYS, or CHARGE_NODE_SCRIPT's keys from ARGV), the numbers
 * of their shapes ARGV[arg ..] (read_shapes has read the table).
 */
function chargeFunction(): string {
  return `
-- Globals read once: each use of a global (ARGV, redis, tonumber ...) is a table lookup in Lua.
local argv, call, tonumber, floor, format = ARGV, redis.call, tonumber, math.floor, string.format

-- TIME before writes is allowed: Redis 7 replicates a script's effects (the INCRBYs), not the
-- script, so replicas never re-evaluate TIME. Using the server's clock keeps every Sluice
-- instance, whatever its host clock, on the same window boundaries.
local time = call('TIME')
local now = tonumber(time[1]) * 1000 + floor(tonumber(time[2]) / 1000)

-- Slot keys read so far by this script call: current (kept up to date with every INCRBY, so a
-- later request of the same call sees what an earlier one charged) and previous count, by key.
local current, previous = {}, {}
-- By window length (its text): the window at this call's now, the end of the keys of its current
-- and previous slot, ':<windowMs>:<k>' and ':<windowMs>:<k - 1>', the same for every counter.
local slots = {}
-- The call's shapes by number, each read into numbers once, in one flat table: { enforced, cost,
-- cost as sent (INCRBY gets it so: a Lua number would be reformatted with %.14g), countRejected,
-- window count n }, then five entries per window from index 6 + 5 (j - 1): windowMs, the ends of
-- its current and previous slot keys, limit, limit as sent. One table per shape, none per window:
-- in a call of one request, reading its shapes is most of the fixed cost.
local shapes = {}

-- Reads the shape table at ARGV[arg] (see CHARGE_SCRIPT) and returns where the arguments go on.
local function read_shapes(arg)
  local count = tonumber(argv[arg])
  if count == nil then error('malformed shape count ' .. tostring(argv[arg])) end
  arg = arg + 1
  for s = 1, count do
    local cost_arg, n = argv[arg + 1], tonumber(argv[arg + 3])
    local cost = tonumber(cost_arg)
    if cost == nil or n == nil then error('malformed descriptor shape ' .. s) end
    local shape = { argv[arg] == 'enforced', cost, cost_arg, argv[arg + 2] == '1', n }
    arg = arg + 4
    for j = 0, n - 1 do
      local window_arg, limit_arg = argv[arg], argv[arg + 1]
      local slot = slots[window_arg]
      if slot == nil then
        local w = tonumber(window_arg)
        if w == nil or w <= 0 then error('malformed window length ' .. tostring(window_arg)) end
        -- Slot numbers stay below 2^53, so %d prints them exactly like JavaScript does.
        local k = floor(now / w)
        slot = { w, ':' .. window_arg .. ':' .. format('%d', k), ':' .. window_arg .. ':' .. format('%d', k - 1) }
        slots[window_arg] = slot
      end
      local limit = tonumber(limit_arg)
      if limit == nil then error('malformed limit ' .. tostring(limit_arg)) end
      local o = 5 + 5 * j
      shape[o + 1], shape[o + 2], shape[o + 3], shape[o + 4], shape[o + 5] = slot[1], slot[2], slot[3], limit, limit_arg
      arg = arg + 2
    end
    shapes[s] = shape
  end
  return arg
end

-- What the request being decided charges to each slot key (a counter named twice adds up), valid
-- where planned_by matches its number.
local planned, planned_by = {}, {}
local request = 0
-- The windows of the request being decided, in order, one entry per array; reused by the next:
-- slot key, whether it passed, its descriptor's shape and the window's offset in it.
local w_key, w_passed, w_shape, w_at = {}, {}, {}, {}

local function charge(first_key, key_count, arg)
  request = request + 1
  local windows = 0
  local enforced_failed = false

  for i = first_key, first_key + key_count - 1 do
    local shape = shapes[tonumber(argv[arg])]
    if shape == nil then error('unknown descriptor shape ' .. tostring(argv[arg])) end
    arg = arg + 1
    local base, cost = keys[i], shape[2]
    for o = 5, 5 * shape[5], 5 do
      local key = base .. shape[o + 2]
      local c = current[key]
      if c == nil then
        local both = call('MGET', key, base .. shape[o + 3])
        c = tonumber(both[1] or '0')
        current[key] = c
        previous[key] = tonumber(both[2] or '0')
      end
      -- admission.ts estimate(): E = p * (1 - elapsed fraction of slot k) + c
      local w = shape[o + 1]
      local e = previous[key] * (1 - (now % w) / w) + c
      -- admission.ts windowPasses(): E + h <= L, E taken before any accounting, plus what earlier
      -- descriptors of this request charge to the same counter.
      local earlier = planned_by[key] == request and planned[key] or 0
      local passed = e + earlier + cost <= shape[o + 4]
      planned[key] = earlier + cost
      planned_by[key] = request
      if not passed and shape[1] then enforced_failed = true end
      windows = windows + 1
      w_key[windows], w_passed[windows], w_shape[windows], w_at[windows] = key, passed, shape, o
    end
  end

  -- admission.ts isAdmitted(), restricted to what this call can know for certain.
  local admitted = not enforced_failed

  local reply = { now, admitted and 1 or 0 }
  for j = 1, windows do
    local key, shape, o = w_key[j], w_shape[j], w_at[j]
    if shape[2] > 0 and (admitted or shape[4]) then
      -- admission.ts chargedHits(): a refused call adds at most the window's limit.
      local hits = shape[3]
      if not admitted and shape[2] > shape[o + 4] then hits = shape[o + 5] end
      local fresh = current[key] == 0
      current[key] = call('INCRBY', key, hits)
      -- counter-key.ts slotTtlMs(): 2W + margin. Set when the slot key is created: it is charged
      -- only during its own slot, so 2W + margin from its first charge covers its last read.
      if fresh then call('PEXPIRE', key, format('%d', 2 * shape[o + 1] + ${SLOT_TTL_MARGIN_MS})) end
    end
    reply[3 * j] = current[key]
    reply[3 * j + 1] = previous[key]
    reply[3 * j + 2] = w_passed[j] and 1 or 0
  end
  return reply
end
`;
}

/**
 * REFUND_SCRIPT — takes back a Cluster group's tentative charge when the request as a whole was
 * refused. KEYS are slot keys of one hash slot, ARGV[i] the cost to take from KEYS[i]. A key that
 * has meanwhile expired is left alone: DECRBY would recreate it negative and without a TTL.
 * Returns the counts after the refund (or 0 for a missing key).
 */
export const REFUND_SCRIPT = `
local reply = {}
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    reply[i] = redis.call('DECRBY', KEYS[i], ARGV[i])
  else
    reply[i] = 0
  end
end
return reply
`;

/**
 * ADD_SCRIPT — adds refused hits answered by the local over-limit cache to one slot key (KEYS[1]):
 * ARGV[1] hits, ARGV[2] the slot's lifetime in ms. One key per call, so it runs on any Cluster node.
 * The lifetime is only ever extended: a slot already living longer keeps its expiry.
 */
export const ADD_SCRIPT = `
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return count
`;

/**
 * PEEK_SCRIPT — reads what CHARGE_SCRIPT would read, at the same server clock, and writes nothing:
 * no INCRBY, no PEXPIRE, so an operator's look at a counter neither counts a hit nor keeps a slot
 * alive. Only the slot keys derived from KEYS are read (never a SCAN).
 *   KEYS[i]  the counterKey (base) of the group's i-th descriptor, declared for Cluster routing.
 *   ARGV     per descriptor: window count n, then n window lengths in ms.
 *   Returns  { nowMs, then per window: current, previous }.
 */
export const PEEK_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local reply = { now }
local arg = 1
for i = 1, #KEYS do
  local n = tonumber(ARGV[arg])
  arg = arg + 1
  for j = 1, n do
    local window_arg = ARGV[arg]
    arg = arg + 1
    -- The same keys as CHARGE_SCRIPT: counter-key.ts slotKey(), k = floor(now / w).
    local k = math.floor(now / tonumber(window_arg))
    local prefix = KEYS[i] .. ':' .. window_arg .. ':'
    -- One MGET for both, as CHARGE_SCRIPT reads them: while the slot migrates, a node that has not
    -- got both keys refuses it ("non local key"; the store sends it again) instead of reading 0.
    local both = redis.call('MGET', prefix .. string.format('%d', k), prefix .. string.format('%d', k - 1))
    reply[#reply + 1] = tonumber(both[1] or '0')
    reply[#reply + 1] = tonumber(both[2] or '0')
  end
end
return reply
`;
