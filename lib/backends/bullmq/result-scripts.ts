import { run, type RedisClient, type Script } from './redis-scripts.js';

/**
 * The Lua scripts of results administration (the dashboard): they walk
 * BullMQ's own lines of a queue (its lists and sorted sets of job ids),
 * count its finished jobs and retry a failed one, reading and writing the
 * jobs where BullMQ keeps them (see redis-scripts.ts).
 */

/** How many ids a walk reads per command. */
const WALK_CHUNK = 200;
/** How many entries BullMQ keeps in a queue's event stream, about (as its own scripts trim it). */
const MAX_EVENTS = 10_000;

/**
 * Walks one line of a queue newest first (a sorted set from its highest
 * score, ties by highest id; a list from its left end), from the start or
 * after the entry `after` (its score or index, and id), and answers the
 * ids that match (their task name, failed reason and add time), up to
 * ARGV[5] of them, reading at most ARGV[6] entries. A list's entry is
 * found again by id (at its index, else among the first ARGV[6]); one that
 * left the list resumes the walk at its index. A sorted set's entry that
 * left it resumes the walk where its score and id would rank.
 * Answers { matches (id, score or index, …), read, 1 when the line was
 * read to its end, last read score or index, last read id }.
 * KEYS: the line. ARGV: 'z' (sorted set) or 'l' (list), job key prefix,
 * after's score or index ('' for none), after's id ('' for none), wanted,
 * bound, task name ('' any), reason test ('', 'eq', 'ne'), reason, highest
 * score ('' none; a sorted set walked from the start), latest add time
 * ('' none).
 */
const WALK_LINE: Script = {
  name: 'nestjsTasksWalkLine',
  keys: 1,
  lua: `
local key, zset, prefix = KEYS[1], ARGV[1] == 'z', ARGV[2]
local afterPos, afterId = ARGV[3], ARGV[4]
local want, bound = tonumber(ARGV[5]), tonumber(ARGV[6])
local name, test, reason = ARGV[7], ARGV[8], ARGV[9]
local latest = tonumber(ARGV[11])
local checks = name ~= '' or test ~= '' or latest ~= nil
local function matches(id)
  if not checks then return true end
  local f = redis.call('HMGET', prefix .. id, 'name', 'failedReason', 'timestamp')
  if name ~= '' and f[1] ~= name then return false end
  if test == 'eq' and f[2] ~= reason then return false end
  if test == 'ne' and f[2] == reason then return false end
  if latest and (tonumber(f[3]) or 0) > latest then return false end
  return true
end
local read, start = 0, 0
if afterId ~= '' and zset then
  local score = tonumber(afterPos)
  local own = redis.call('ZSCORE', key, afterId)
  if own and tonumber(own) == score then
    start = redis.call('ZREVRANK', key, afterId) + 1
  else
    start = redis.call('ZCOUNT', key, '(' .. afterPos, '+inf')
    for _ = 1, bound do
      local e = redis.call('ZREVRANGE', key, start, start, 'WITHSCORES')
      if #e == 0 or tonumber(e[2]) ~= score or e[1] < afterId then break end
      start = start + 1
    end
  end
elseif afterId ~= '' then
  local index = tonumber(afterPos)
  if redis.call('LINDEX', key, index) == afterId then
    start = index + 1
  else
    local at = redis.call('LPOS', key, afterId, 'MAXLEN', bound)
    start = at and at + 1 or index
  end
elseif zset and ARGV[10] ~= '' then
  start = redis.call('ZCOUNT', key, '(' .. ARGV[10], '+inf')
end
local found, count, exhausted = {}, 0, 0
local lastPos, lastId = '', ''
while count < want and read < bound do
  local n = math.min(${WALK_CHUNK}, bound - read)
  local entries = {}
  if zset then
    entries = redis.call('ZREVRANGE', key, start, start + n - 1, 'WITHSCORES')
  else
    for i, id in ipairs(redis.call('LRANGE', key, start, start + n - 1)) do
      entries[#entries + 1] = id
      entries[#entries + 1] = tostring(start + i - 1)
    end
  end
  for i = 1, #entries, 2 do
    read = read + 1
    start = start + 1
    lastId, lastPos = entries[i], entries[i + 1]
    if matches(lastId) then
      found[#found + 1] = lastId
      found[#found + 1] = lastPos
      count = count + 1
      if count >= want then break end
    end
  end
  if count < want and #entries / 2 < n then
    exhausted = 1
    break
  end
end
return { found, read, exhausted, lastPos, lastId }`,
};

/**
 * Counts the jobs of a finished set that finished at or after ARGV[2]
 * (the ARGV[4] that finished last, at most), per bucket of ARGV[3] ms and
 * kind: 'c' for a failed reason ARGV[5] (when given), else 'f'.
 * Answers { bucket start, kind, count, … }.
 * KEYS: the set. ARGV: job key prefix, since, bucket ms, cap, reason ('' none).
 */
const COUNT_FINISHED: Script = {
  name: 'nestjsTasksCountFinished',
  keys: 1,
  lua: `
local width = tonumber(ARGV[3])
local entries = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[2], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[4]))
local counts, order = {}, {}
for i = 1, #entries, 2 do
  local score = tonumber(entries[i + 1])
  local kind = 'f'
  if ARGV[5] ~= '' and redis.call('HGET', ARGV[1] .. entries[i], 'failedReason') == ARGV[5] then kind = 'c' end
  local bucket = score - score % width
  local at = bucket .. kind
  if not counts[at] then
    counts[at] = 0
    order[#order + 1] = { bucket, kind, at }
  end
  counts[at] = counts[at] + 1
end
local answer = {}
for _, entry in ipairs(order) do
  answer[#answer + 1] = entry[1]
  answer[#answer + 1] = entry[2]
  answer[#answer + 1] = counts[entry[3]]
end
return answer`,
};

/**
 * Makes a failed job wait again, as BullMQ's own retry of a failed job
 * does (out of the failed set, its finish fields deleted, added as a job
 * of its priority is, the queue's marker set unless it is paused or at
 * its concurrency, a 'waiting' event), its data written in the same step:
 * only while it is failed and its data is the data read. Takes back its
 * deduplication id, unless another job that has not finished holds it.
 * Answers 'retried', 'gone' when it is not failed (retried meanwhile),
 * 'changed' when its data is not the data read, 'held' when another job
 * holds its deduplication id. A request to cancel it left behind (a
 * request is for an attempt, and the job has none running) is dropped.
 * KEYS: job, failed, wait, prioritized, priority counter, marker, meta,
 * active, events, cancels hash. ARGV: id, data read, retried data, job
 * key prefix.
 */
const RETRY_FAILED: Script = {
  name: 'nestjsTasksRetryFailed',
  keys: 10,
  lua: `
local id, prefix = ARGV[1], ARGV[4]
if not redis.call('ZSCORE', KEYS[2], id) then return 'gone' end
if redis.call('HGET', KEYS[1], 'data') ~= ARGV[2] then return 'changed' end
local deid = redis.call('HGET', KEYS[1], 'deid')
if deid then
  local dedup = prefix .. 'de:' .. deid
  local holder = redis.call('GET', dedup)
  if holder and holder ~= id and redis.call('EXISTS', prefix .. holder) == 1
    and redis.call('HEXISTS', prefix .. holder, 'finishedOn') == 0 then
    return 'held'
  end
  redis.call('SET', dedup, id)
end
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[10], id)
redis.call('HDEL', KEYS[1], 'finishedOn', 'processedOn', 'failedReason')
redis.call('HSET', KEYS[1], 'data', ARGV[3])
local priority = tonumber(redis.call('HGET', KEYS[1], 'priority')) or 0
if priority == 0 then
  redis.call('LPUSH', KEYS[3], id)
else
  local counter = redis.call('INCR', KEYS[5])
  redis.call('ZADD', KEYS[4], priority * 0x100000000 + counter % 0x100000000, id)
end
local meta = redis.call('HMGET', KEYS[7], 'paused', 'concurrency')
local maxed = meta[2] and redis.call('LLEN', KEYS[8]) >= tonumber(meta[2])
if not meta[1] and not maxed then redis.call('ZADD', KEYS[6], 0, '0') end
redis.call('XADD', KEYS[9], 'MAXLEN', '~', ${MAX_EVENTS}, '*', 'event', 'waiting', 'jobId', id, 'prev', 'failed')
return 'retried'`,
};

/** Where a walk of a line starts: after the entry of this score (or index) and id. */
export interface LineEntry {
  /** Its score in a sorted set, its index in a list. */
  pos: number;
  id: string;
}

/** What a walk of one line found. */
export interface LineWalk {
  matches: LineEntry[];
  /** How many entries it read. */
  read: number;
  /** Whether it read the line to its end. */
  exhausted: boolean;
  /** The last entry it read, if any. */
  last: LineEntry | null;
}

/** What a walk of a line looks for. */
export interface LineQuery {
  /** 'zset' walks a sorted set, 'list' a list. */
  kind: 'zset' | 'list';
  after?: LineEntry;
  want: number;
  bound: number;
  taskName?: string;
  /** Only the jobs whose failed reason is (`is`: true) or is not this. */
  reason?: { text: string; is: boolean };
  /** A sorted set's entries scored at most this. */
  maxScore?: number;
  /** Only the jobs added at or before this (epoch ms). */
  addedBy?: number;
}

export const ResultScripts = {
  async walkLine(
    client: RedisClient,
    key: string,
    jobKeyPrefix: string,
    query: LineQuery,
  ): Promise<LineWalk> {
    const [found, read, exhausted, lastPos, lastId] = (await run(
      client,
      WALK_LINE,
      [key],
      [
        query.kind === 'zset' ? 'z' : 'l',
        jobKeyPrefix,
        query.after ? String(query.after.pos) : '',
        query.after?.id ?? '',
        query.want,
        query.bound,
        query.taskName ?? '',
        query.reason ? (query.reason.is ? 'eq' : 'ne') : '',
        query.reason?.text ?? '',
        query.maxScore === undefined ? '' : String(query.maxScore),
        query.addedBy === undefined ? '' : String(query.addedBy),
      ],
    )) as [(string | number)[], number, number, string, string];
    const matches: LineEntry[] = [];
    for (let at = 0; at + 1 < found.length; at += 2)
      matches.push({ id: String(found[at]), pos: Number(found[at + 1]) });
    return {
      matches,
      read: Number(read),
      exhausted: Number(exhausted) === 1,
      last: lastId === '' ? null : { id: lastId, pos: Number(lastPos) },
    };
  },

  /** Counts a finished set's jobs per bucket (see COUNT_FINISHED); `cancelledReason` tells cancelled failed jobs apart. */
  async countFinished(
    client: RedisClient,
    setKey: string,
    jobKeyPrefix: string,
    since: number,
    bucketMs: number,
    cap: number,
    cancelledReason: string,
  ): Promise<{ start: number; cancelled: boolean; count: number }[]> {
    const answer = (await run(
      client,
      COUNT_FINISHED,
      [setKey],
      [jobKeyPrefix, since, bucketMs, cap, cancelledReason],
    )) as (string | number)[];
    const counts: { start: number; cancelled: boolean; count: number }[] = [];
    for (let at = 0; at + 2 < answer.length; at += 3)
      counts.push({
        start: Number(answer[at]),
        cancelled: answer[at + 1] === 'c',
        count: Number(answer[at + 2]),
      });
    return counts;
  },

  async retryFailed(
    client: RedisClient,
    keys: {
      job: string;
      failed: string;
      wait: string;
      prioritized: string;
      pc: string;
      marker: string;
      meta: string;
      active: string;
      events: string;
      cancels: string;
    },
    id: string,
    read: string,
    retried: string,
    jobKeyPrefix: string,
  ): Promise<'retried' | 'gone' | 'changed' | 'held'> {
    return (await run(
      client,
      RETRY_FAILED,
      [
        keys.job,
        keys.failed,
        keys.wait,
        keys.prioritized,
        keys.pc,
        keys.marker,
        keys.meta,
        keys.active,
        keys.events,
        keys.cancels,
      ],
      [id, read, retried, jobKeyPrefix],
    )) as 'retried' | 'gone' | 'changed' | 'held';
  },
};
