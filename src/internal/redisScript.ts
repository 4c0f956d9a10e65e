/**
 * The Lua script of the Redis throttle: every decision of every process is one call of this script, so it is
 * atomic, and it reads the time from the server (`TIME`), so client clocks do not matter. It is a port of the
 * exact sliding log of `throttleCore.ts`, turned into reservations: a caller is given the grant time at which the
 * permits are due and sleeps until then; its grant is already recorded at that time, so those behind it are
 * reserved after it (FIFO), and an interrupted caller cancels its record.
 *
 * `measure: "release"`: a slot is held from the grant until `period` after its release. Every permit in flight is
 * a lease (as with `maxConcurrent`, capped at the smallest limit), the windows log releases instead of grants, and
 * a window's occupancy is its leased permits plus its logged releases. A caller that cannot go now waits in the
 * lease queue (FIFO) with the time at which it can go unless a release comes first (a release only ever brings
 * that time closer, and wakes the queue). A lease that is not renewed (its holder died) ends as a release at its
 * expiry: a dead holder's slot is held `leaseTtl + period` at most.
 *
 * `redisCore.ts` is the same algorithm in TypeScript (the fake store of the unit tests and the `"local"`
 * fallback); the two are tested against the same tables.
 *
 * Keys (one hash tag, so that Redis Cluster keeps them on one slot):
 * - `KEYS[1]` meta hash: `c<i>` the cumulative weight recorded in window i, `e<i>` the cumulative weight of the
 *   last expired record of window i, `tat` (smooth schedule), `pause` (no grant before), `held` (leased permits),
 *   `seq` (arrival counter of the lease queue), `tail` (the last record's time, when after now), `x` (when every
 *   key expires, as the TTLs were last set).
 * - `KEYS[2]` leases: sorted set of `"<n>:<id>"` by expiry.
 * - `KEYS[3]` lease queue: sorted set of `"<n>:<id>"` by arrival.
 * - `KEYS[4]` lease queue heartbeats: sorted set of the same members by expiry (a dead waiter leaves the queue).
 * - `KEYS[4 + i]` window i: sorted set of records `"<cum>:<n>:<id>"` by grant (or release) time, `cum` zero-padded
 *   so that members with one score sort by cum. `cum` (the window's cumulative weight up to and including the
 *   record) makes "weight in the window at t" one lookup, and "when do `need` permits expire" a binary search.
 *   The grants at `now` of one call are one record (their total weight, the first one's id): they expire
 *   together, and only a reservation in the future can be cancelled, so only those need a record of their own.
 *
 * `ARGV`: op, now (`""` = the server's `TIME`; tests pass a clock), deadline (`""` or server time after which the
 * call is stale and does nothing: a command resent after its caller gave up), the number of windows k, then
 * `limit period` (ms) per window, interval (smooth spacing, ms; 0 = none), burst, maxConcurrent (0 = none),
 * leaseTtl (ms), measure (`s` start, `r` release), channel (wake-ups), wake tag (appended to every message on the
 * channel: `""` for a throttle of its own, the user key for a key of a keyed throttle, whose keys share one
 * channel), then the op's arguments.
 *
 * Replies: `{now, ...}` with one element per request of an `acquire` batch; a request granted at `now` without a
 * wait is the string `g` (the common case, kept small: it is most of a busy throttle's traffic).
 *
 * Every call ends by setting one TTL on every key: long enough for every record, lease, pause and heartbeat to
 * expire first, so a throttle left alone leaves nothing behind. The fast path (below) sets it with up to a second
 * to spare and then leaves it alone while it lasts, unless it creates a key (a window whose records had all
 * expired): the meta field `x` is when every key expires.
 *
 * @internal
 */

/** The script. Times are milliseconds (fractions allowed), numbers travel as strings (`%.17g`). */
export const SCRIPT = `
local function num(x) return string.format('%.17g', x) end
local function pad(x) return string.format('%015.0f', x) end
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
if ARGV[3] ~= '' and now > tonumber(ARGV[3]) then return {'stale', num(now)} end
local nowStr = num(now)
-- times closer than this (ms) are one: a waiter told to come back at t may arrive a rounding error before it
local EPSILON = 1e-6
local op = ARGV[1]
local k = tonumber(ARGV[4])
local limits, periods = {}, {}
local maxPeriod, minLimit = 0, 1 / 0
for i = 1, k do
  limits[i] = tonumber(ARGV[3 + 2 * i])
  periods[i] = tonumber(ARGV[4 + 2 * i])
  if periods[i] > maxPeriod then maxPeriod = periods[i] end
  if limits[i] < minLimit then minLimit = limits[i] end
end
local a = 5 + 2 * k
local interval = tonumber(ARGV[a])
local burst = tonumber(ARGV[a + 1])
local maxC = tonumber(ARGV[a + 2])
local leaseTtl = tonumber(ARGV[a + 3])
local release = ARGV[a + 4] == 'r'
local channel = ARGV[a + 5]
local wakeTag = ARGV[a + 6]
local argi = a + 7
local meta, leases, queue, beats = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
-- leases: with maxConcurrent, and under measure "release" (every permit in flight, at most the smallest limit)
local leasing = maxC > 0 or release
local cap = maxC
if release and (maxC == 0 or minLimit < maxC) then cap = minLimit end

-- the meta fields, in one read: c1..ck, e1..ek, tat, pause, held, tail, x
local fields = {}
for i = 1, k do
  fields[i] = 'c' .. i
  fields[k + i] = 'e' .. i
end
fields[2 * k + 1], fields[2 * k + 2], fields[2 * k + 3], fields[2 * k + 4] = 'tat', 'pause', 'held', 'tail'
fields[2 * k + 5] = 'x'
local values = redis.call('HMGET', meta, unpack(fields))
local function field(j)
  if values[j] then return tonumber(values[j]) end
  return nil
end
local function cumOf(m) return tonumber(string.sub(m, 1, 15)) end
local function weightOf(m) return tonumber(string.match(m, '^(%d+):')) end
local function idOf(m) return string.sub(m, string.find(m, ':', 1, true) + 1) end

-- windows: expire the records whose slot is free at now
local C, E = {}, {}
-- per window: its c (resp. e) field changed
local cDirty, eDirty = {}, {}
local tatDirty, heldDirty, tailDirty = false, false, false
for i = 1, k do
  local key = KEYS[4 + i]
  C[i] = field(i) or 0
  E[i] = field(k + i) or 0
  local cut = num(now - periods[i])
  local last = redis.call('ZREVRANGEBYSCORE', key, cut, '-inf', 'LIMIT', 0, 1)
  if #last > 0 then
    E[i] = cumOf(last[1])
    eDirty[i] = true
    redis.call('ZREMRANGEBYSCORE', key, '-inf', cut)
  end
end
local tat = field(2 * k + 1) or 0
local pause = field(2 * k + 2) or 0
local held = field(2 * k + 3) or 0

-- the time of the last record: those arriving now are reserved after it
local function lastRecord()
  local t = -1 / 0
  for i = 1, k do
    local last = redis.call('ZRANGE', KEYS[4 + i], -1, -1, 'WITHSCORES')
    if #last > 0 and tonumber(last[2]) > t then t = tonumber(last[2]) end
  end
  return t
end
-- the meta field tail is the time of the last record whenever that is after now (the only case in which it
-- matters to a caller arriving now): it is written when a reservation in the future is recorded and when a
-- record is removed; a grant at now does not write it (the fast path reads no sorted set for it)
local tailT = field(2 * k + 4) or -1 / 0
local function setTail(t)
  tailT = t
  tailDirty = true
end

-- the grants at now of this call, written as one record by flushMerged (anything that reads the records first)
local mergedN, mergedId = 0, ''
local function flushMerged()
  if mergedN > 0 then
    for i = 1, k do redis.call('ZADD', KEYS[4 + i], nowStr, pad(C[i]) .. ':' .. mergedN .. ':' .. mergedId) end
    mergedN = 0
  end
end

-- the time at which every key expires, as the last call that set their TTL set it (nil: the meta hash is new)
local expiresAt = field(2 * k + 5)

-- writes what changed in the meta hash (one HSET), then one TTL on every key that may exist. On the fast path
-- (fast), the TTL is set with room to spare, and not set again while the one set last lasts long enough, unless
-- the call created a key: every key then has the TTL of the last call that set them all (a key is only ever
-- created in a call that sets them all), so the meta hash's x field says when all of them expire
local function expireAll(fast, created)
  flushMerged()
  local set = {}
  for i = 1, k do
    if cDirty[i] then
      set[#set + 1] = 'c' .. i
      set[#set + 1] = num(C[i])
    end
    if eDirty[i] then
      set[#set + 1] = 'e' .. i
      set[#set + 1] = num(E[i])
    end
  end
  if tailDirty then
    set[#set + 1] = 'tail'
    -- (at least now: "none after now" reads the same, and the field never holds an infinity)
    set[#set + 1] = num(math.max(tailT, now))
  end
  if tatDirty then
    set[#set + 1] = 'tat'
    set[#set + 1] = num(tat)
  end
  if heldDirty then
    set[#set + 1] = 'held'
    set[#set + 1] = num(held)
  end
  local horizon = math.max(now, tailT, pause, tat)
  -- a lease lives leaseTtl from its last renewal; under "release" its slot is taken a period more after that
  local hold = math.max(maxPeriod, leaseTtl)
  if release then hold = leaseTtl + maxPeriod end
  local ttl = math.ceil(horizon - now + hold + 1000)
  if fast and not created and expiresAt and expiresAt >= now + ttl then
    if #set > 0 then redis.call('HSET', meta, unpack(set)) end
    return
  end
  -- with room to spare on the fast path (its next calls keep it for up to min(hold, 1 s)), exactly otherwise
  if fast then ttl = ttl + math.ceil(math.min(hold, 1000)) end
  set[#set + 1] = 'x'
  set[#set + 1] = num(now + ttl)
  redis.call('HSET', meta, unpack(set))
  redis.call('PEXPIRE', meta, ttl)
  -- the lease keys exist only when leasing (every process of a key must use the same options)
  if leasing then
    for j = 2, 4 do redis.call('PEXPIRE', KEYS[j], ttl) end
  end
  for i = 1, k do redis.call('PEXPIRE', KEYS[4 + i], ttl) end
end

-- The common case, decided here, before the rest of the script is set up (a third of its cost on a busy key): an
-- acquire batch of waiting requests (no try) on a throttle without leases or spacing, nobody reserved after now,
-- no pause, and room in every window for the whole batch. The general path below decides the same: each request
-- in turn fits at now, so each is granted at now and merged into one record at now ('g' replies).
if op == 'acquire' and not leasing and interval == 0 and pause <= now and tailT <= now then
  local m = tonumber(ARGV[argi])
  local total = 0
  for r = 0, m - 1 do
    if ARGV[argi + 4 + 4 * r] ~= 'w' then total = -1 break end
    total = total + tonumber(ARGV[argi + 1 + 4 * r])
  end
  -- a window with no record has no key: this call creates it, and sets every TTL
  local created = false
  for i = 1, k do
    if total > 0 and C[i] - E[i] + total > limits[i] then total = -1 end
    if C[i] == E[i] then created = true end
  end
  if total > 0 then
    mergedN, mergedId = total, ARGV[argi + 2]
    for i = 1, k do
      C[i] = C[i] + total
      cDirty[i] = true
    end
    expireAll(true, created)
    local granted = {nowStr}
    for r = 1, m do granted[r + 1] = 'g' end
    return granted
  end
end

-- appends a record of n at t (t >= every record's time) in every window; returns the cums of a record after
-- now (a reservation, which its caller may cancel), nil for a grant at now
local function append(t, n, id)
  for i = 1, k do cDirty[i] = true end
  if t == now then
    if t > tailT then tailT = t end
    if mergedN == 0 then mergedId = id end
    mergedN = mergedN + n
    for i = 1, k do C[i] = C[i] + n end
    return nil
  end
  if t > tailT then
    if t > now then setTail(t) else tailT = t end
  end
  flushMerged()
  local cums = {}
  local score = num(t)
  for i = 1, k do
    C[i] = C[i] + n
    redis.call('ZADD', KEYS[4 + i], score, pad(C[i]) .. ':' .. n .. ':' .. id)
    cums[i] = num(C[i])
  end
  return cums
end

-- the cums of the grant just appended at now (a reply that names its record: "confirm")
local function cumsNow()
  local cums = {}
  for i = 1, k do cums[i] = num(C[i]) end
  return cums
end

-- leases: expire the dead ones (under "release", each ends as a release at its expiry), and the waiters that
-- stopped calling
local leaseDirty = false
if leasing then
  local dead = redis.call('ZRANGEBYSCORE', leases, '-inf', nowStr, 'WITHSCORES')
  if #dead > 0 then
    for j = 1, #dead, 2 do
      local w = weightOf(dead[j])
      held = held - w
      -- appended after every record (the tail read exactly: it may lie before now)
      if release and j == 1 then tailT = math.max(tailT, lastRecord()) end
      if release then
        local at = math.max(tonumber(dead[j + 1]), tailT)
        if at + maxPeriod > now then append(at, w, idOf(dead[j])) end
      end
    end
    heldDirty = true
    redis.call('ZREMRANGEBYSCORE', leases, '-inf', nowStr)
    leaseDirty = true
  end
  local gone = redis.call('ZRANGEBYSCORE', beats, '-inf', nowStr)
  if #gone > 0 then
    for _, m in ipairs(gone) do redis.call('ZREM', queue, m) end
    redis.call('ZREMRANGEBYSCORE', beats, '-inf', nowStr)
    leaseDirty = true
  end
end

-- the earliest time >= t0 at which window i has room for n besides the extra (leased) permits, with nothing
-- recorded after t0; infinite if only a release can make room
local function due(i, t0, n, extra)
  -- every record still in the log counts at most once: room for n even if all of them are in the window
  if extra + C[i] - E[i] + n <= limits[i] then return t0 end
  flushMerged()
  local key = KEYS[4 + i]
  local cut = num(t0 - periods[i])
  local base, r0 = E[i], 0
  local last = redis.call('ZREVRANGEBYSCORE', key, cut, '-inf', 'LIMIT', 0, 1)
  if #last > 0 then
    base = cumOf(last[1])
    r0 = redis.call('ZCOUNT', key, '-inf', cut)
  end
  local need = extra + C[i] - base + n - limits[i]
  if need <= 0 then return t0 end
  if need > C[i] - base then return 1 / 0 end
  local target = base + need
  local lo = r0
  local hi = math.min(r0 + need - 1, redis.call('ZCARD', key) - 1)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local m = redis.call('ZRANGE', key, mid, mid)[1]
    if cumOf(m) >= target then hi = mid else lo = mid + 1 end
  end
  local rec = redis.call('ZRANGE', key, lo, lo, 'WITHSCORES')
  return math.max(t0, tonumber(rec[2]) + periods[i])
end

-- the earliest time a caller arriving now could be granted anything: after the queue, the pause, the spacing
local function start()
  local t0 = math.max(now, tailT, pause)
  if interval > 0 then t0 = math.max(t0, tat - (burst - 1) * interval) end
  return t0
end

-- the earliest grant time of n for a caller arriving now, the extra (leased) permits counted in every window
local function grantTime(n, extra)
  local t0 = start()
  local t = t0
  for i = 1, k do
    local d = due(i, t0, n, extra)
    if d > t then t = d end
  end
  return t
end

-- the permits in flight that occupy a window: under "release", every leased one
local function inWindow()
  if release then return held end
  return 0
end

-- what a server tells its client: the window with the fewest permits remaining now
local function decision(queued)
  flushMerged()
  local bestI, bestR = 1, 1 / 0
  for i = 1, k do
    local r = 0
    if not queued then r = math.max(0, limits[i] - (C[i] - E[i]) - inWindow()) end
    if r < bestR then bestI, bestR = i, r end
  end
  if leasing then bestR = math.max(0, math.min(bestR, cap - held)) end
  local reset = 0
  local last = redis.call('ZRANGE', KEYS[4 + bestI], -1, -1, 'WITHSCORES')
  if #last > 0 then reset = math.max(0, tonumber(last[2]) + periods[bestI] - now) end
  -- a slot in flight frees a period after its release at the earliest
  if release and held > 0 then reset = math.max(reset, periods[bestI]) end
  return {num(limits[bestI]), num(bestR), num(reset)}
end

-- moves the smooth schedule past a grant of n at t; returns the previous one
local function space(t, n)
  local prevTat = tat
  if interval > 0 then
    tat = math.max(tat, t) + n * interval
    tatDirty = true
  end
  return prevTat
end

local function record(t, n, id)
  local cums = append(t, n, id)
  return cums, space(t, n)
end

-- removes a reservation's records (cums from ARGV[from]); true when it was the last one (then its place is free)
local function unrecord(n, id, prevTat, from)
  flushMerged()
  local wasLast = false
  for i = 1, k do
    local cum = tonumber(ARGV[from + i - 1])
    local key = KEYS[4 + i]
    if redis.call('ZREM', key, pad(cum) .. ':' .. n .. ':' .. id) == 1 and C[i] == cum then
      wasLast = true
      local last = redis.call('ZRANGE', key, -1, -1)
      if #last > 0 then C[i] = cumOf(last[1]) else C[i] = E[i] end
      cDirty[i] = true
    end
  end
  setTail(lastRecord())
  if wasLast and interval > 0 then
    tat = prevTat
    tatDirty = true
  end
  return wasLast
end

local function setHeld(h)
  held = h
  heldDirty = true
end

local function wake()
  if redis.call('ZCARD', queue) > 0 then redis.call('PUBLISH', channel, 'w' .. wakeTag) end
end

local function hint()
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  if #first > 0 then return num(tonumber(first[2]) - now) end
  return '-1'
end

local function append3(out, d)
  for _, v in ipairs(d) do out[#out + 1] = v end
  return out
end

-- one request of an acquire batch under measure "release": a grant is a lease; nothing is reserved ahead
local function acquireReleased(n, id, mode)
  local member = n .. ':' .. id
  local queued = redis.call('ZCARD', queue)
  if mode == 't' then
    local t = grantTime(n, held)
    if queued > 0 or held + n > cap or t > now + EPSILON then
      -- the window's own wait (a lower bound: the leased permits may be released at once)
      return append3({'no', num(math.max(0, grantTime(n, 0) - now))}, decision(queued > 0 or start() > now))
    end
  else
    if not redis.call('ZSCORE', queue, member) then
      redis.call('ZADD', queue, redis.call('HINCRBY', meta, 'seq', 1), member)
      queued = queued + 1
    end
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    local wait
    if head ~= member or held + n > cap then
      wait = hint()
    else
      -- the head: it goes when the windows have room with the leased permits in them (a release before then only
      -- brings that time closer, and wakes the queue)
      local t = grantTime(n, held)
      if t > now + EPSILON then wait = num(t - now) end
    end
    if wait then
      redis.call('ZADD', beats, num(now + leaseTtl), member)
      return {'queued', wait}
    end
    redis.call('ZREM', queue, member)
    redis.call('ZREM', beats, member)
  end
  redis.call('ZADD', leases, num(now + leaseTtl), member)
  setHeld(held + n)
  space(now, n)
  wake()
  if mode == 't' then return append3({'ok', '0', nowStr, '0'}, decision(false)) end
  return 'g'
end

local reply = {nowStr}
if op == 'acquire' then
  -- requests: n, id, maxWait (ms, -1 = none), mode ('w' wait, 't' try)
  local m = tonumber(ARGV[argi])
  for r = 0, m - 1 do
    local n = tonumber(ARGV[argi + 1 + 4 * r])
    local id = ARGV[argi + 2 + 4 * r]
    local mode = ARGV[argi + 4 + 4 * r]
    local out
    if release then
      out = acquireReleased(n, id, mode)
    else
      local member
      local leased = false
      if maxC > 0 then
        member = n .. ':' .. id
        if mode == 't' then
          if redis.call('ZCARD', queue) > 0 or held + n > maxC then
            local t = grantTime(n, 0)
            out = append3({'no', num(math.max(0, t - now))}, decision(redis.call('ZCARD', queue) > 0))
          end
        else
          if not redis.call('ZSCORE', queue, member) then
            redis.call('ZADD', queue, redis.call('HINCRBY', meta, 'seq', 1), member)
          end
          local head = redis.call('ZRANGE', queue, 0, 0)[1]
          if head ~= member or held + n > maxC then
            redis.call('ZADD', beats, num(now + leaseTtl), member)
            out = {'queued', hint()}
          else
            redis.call('ZREM', queue, member)
            redis.call('ZREM', beats, member)
          end
        end
        if not out then
          redis.call('ZADD', leases, num(now + leaseTtl), member)
          setHeld(held + n)
          leased = true
        end
      end
      if not out then
        local t = grantTime(n, 0)
        local queued = t > now
        if mode == 't' then
          if queued then
            out = {'no', num(t - now)}
          else
            record(t, n, id)
            out = {'ok', '0', num(t), '0'}
          end
          append3(out, decision(queued and start() > now))
        elseif t == now then
          record(t, n, id)
          out = 'g'
        else
          local maxWait = tonumber(ARGV[argi + 3 + 4 * r])
          if maxWait >= 0 and t - now > maxWait then
            out = {'late', num(t - now)}
          else
            local cums, prevTat = record(t, n, id)
            out = {'ok', num(t - now), num(t), num(prevTat)}
            for _, c in ipairs(cums) do out[#out + 1] = c end
          end
        end
        if out ~= 'g' and out[1] ~= 'ok' and leased then
          redis.call('ZREM', leases, member)
          setHeld(held - n)
          leased = false
          wake()
        end
      end
      if leased then wake() end
    end
    reply[#reply + 1] = out
  end
elseif op == 'cancel' then
  -- n, id, t, prevTat, lease member ('' = none), cums...
  local wasLast = unrecord(tonumber(ARGV[argi]), ARGV[argi + 1], tonumber(ARGV[argi + 3]), argi + 5)
  local lease = ARGV[argi + 4]
  if lease ~= '' and redis.call('ZREM', leases, lease) == 1 then
    setHeld(held - weightOf(lease))
    wake()
  end
  reply[#reply + 1] = wasLast and '1' or '0'
elseif op == 'confirm' then
  -- a waiter woken at its grant time after a pause was set: still granted, or moved after the pause (same args
  -- as cancel; the lease, if any, stays)
  local n = tonumber(ARGV[argi])
  local id = ARGV[argi + 1]
  if pause <= tonumber(ARGV[argi + 2]) then
    reply[#reply + 1] = {'ok'}
  else
    unrecord(n, id, tonumber(ARGV[argi + 3]), argi + 5)
    local t = grantTime(n, 0)
    local cums, prevTat = record(t, n, id)
    if cums == nil then cums = cumsNow() end
    local out = {'moved', num(t - now), num(t), num(prevTat)}
    for _, c in ipairs(cums) do out[#out + 1] = c end
    reply[#reply + 1] = out
  end
elseif op == 'leave' then
  local member = ARGV[argi]
  redis.call('ZREM', beats, member)
  if redis.call('ZREM', queue, member) == 1 then wake() end
elseif op == 'release' then
  -- lease member, permits to release
  local member = ARGV[argi]
  local r = tonumber(ARGV[argi + 1])
  local score = redis.call('ZSCORE', leases, member)
  if score then
    redis.call('ZREM', leases, member)
    local n = weightOf(member)
    local freed = math.min(r, n)
    setHeld(held - freed)
    if n > r then redis.call('ZADD', leases, score, (n - r) .. string.sub(member, string.len(tostring(n)) + 1)) end
    -- under "release", the slots stay taken for a period from now
    if release then append(now, freed, idOf(member)) end
    wake()
    reply[#reply + 1] = '1'
  else
    reply[#reply + 1] = '0'
  end
elseif op == 'renew' then
  local lost = 0
  local untilT = num(now + leaseTtl)
  for j = argi, #ARGV do
    if redis.call('ZADD', leases, 'XX', 'CH', untilT, ARGV[j]) == 0 then
      if not redis.call('ZSCORE', leases, ARGV[j]) then lost = lost + 1 end
    end
  end
  reply[#reply + 1] = num(lost)
elseif op == 'pause' then
  local untilT = now + tonumber(ARGV[argi])
  if untilT > pause then
    pause = untilT
    redis.call('HSET', meta, 'pause', num(pause))
    -- waiters already reserved before it learn of it through this message
    redis.call('PUBLISH', channel, 'p' .. wakeTag)
  end
  reply[#reply + 1] = num(pause)
elseif op == 'stats' then
  local future = redis.call('ZCOUNT', KEYS[5], '(' .. nowStr, '+inf')
  local waiting = future + redis.call('ZCARD', queue)
  local available = 0
  if waiting == 0 and start() <= now then
    available = 1 / 0
    for i = 1, k do available = math.min(available, limits[i] - (C[i] - E[i]) - inWindow()) end
    if leasing then available = math.min(available, cap - held) end
    available = math.max(0, available)
  end
  reply[#reply + 1] = num(waiting)
  reply[#reply + 1] = num(available)
  reply[#reply + 1] = num(pause)
  reply[#reply + 1] = num(held)
end
if leaseDirty then wake() end
expireAll()
return reply
`
