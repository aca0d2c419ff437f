import type { IRedisClient } from 'bullmq';
import { ATTEMPT_FIELD } from './job-codec.js';

/**
 * The few steps BullMQ has no command for, each one Lua script run
 * atomically next to BullMQ's own: they read and write the jobs where
 * BullMQ keeps them (a job is the hash `<prefix>:<queue>:<id>`, its lock
 * `…:lock`, its states the lists and sorted sets `<prefix>:<queue>:wait`,
 * `prioritized`, `delayed`, `paused`, `failed`) and never keep tasks
 * anywhere else.
 */

/** The Redis client BullMQ opened, as this backend uses it. */
export type RedisClient = IRedisClient;

/** How many announcements of new task queues the control queue's event stream keeps, about. */
const MAX_ANNOUNCED = 1000;
/** How many jobs next in each line `oldestDue` reads. */
const OLDEST_DUE_PER_LINE = 10;

/** A Lua script, defined on each client at its first run. */
export interface Script {
  name: string;
  keys: number;
  lua: string;
}

/**
 * Writes a held job's data (and progress, unless ARGV[3] is empty; and
 * its attempt mark when ARGV[4] is given) only while its lock is the
 * holder's token. Returns 1 when written.
 * KEYS: job, lock. ARGV: token, data, progress, attempt mark.
 */
const WRITE_HELD: Script = {
  name: 'nestjsTasksWriteHeld',
  keys: 2,
  lua: `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'progress', ARGV[3]) end
if ARGV[4] then redis.call('HSET', KEYS[1], '${ATTEMPT_FIELD}', ARGV[4]) end
return 1`,
};

/** Sets a queue's marker that jobs wait (as BullMQ does when it adds one), unless the queue is paused. KEYS: marker, meta. */
const SET_MARKER: Script = {
  name: 'nestjsTasksSetMarker',
  keys: 2,
  lua: `
if redis.call('HEXISTS', KEYS[2], 'paused') == 1 then return 0 end
redis.call('ZADD', KEYS[1], 0, '0')
return 1`,
};

/**
 * Lua: adds the task queue `name` (a Lua expression) to the backend's
 * list of queues (the hash `queues`) and, when it was not there,
 * announces it as `event` on the control queue's event stream `events`
 * (kept to about MAX_ANNOUNCED entries). `added` is then true.
 */
function registerQueueLua(
  queues: string,
  events: string,
  name: string,
  event: string,
): string {
  return `
local added = redis.call('HSETNX', ${queues}, ${name}, 1) == 1
if added then
  redis.call('XADD', ${events}, 'MAXLEN', '~', ${MAX_ANNOUNCED}, '*', 'event', ${event}, 'queue', ${name})
end`;
}

/**
 * Adds a task queue to the list of queues (see registerQueueLua). Returns
 * 1 when it was not there.
 * KEYS: queues hash, events stream. ARGV: queue name, event name.
 */
const REGISTER_QUEUE: Script = {
  name: 'nestjsTasksRegisterQueue',
  keys: 2,
  lua: `${registerQueueLua('KEYS[1]', 'KEYS[2]', 'ARGV[1]', 'ARGV[2]')}
return added and 1 or 0`,
};

/** The id of a stream's last entry, or '0-0' when it has none. KEYS: stream. */
const LAST_ENTRY_ID: Script = {
  name: 'nestjsTasksLastEntryId',
  keys: 1,
  lua: `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 then return '0-0' end
return last[1][1]`,
};

/**
 * Lua: `cancelRequested(id)`, whether the cancel of job `id` was requested
 * (its id in the cancels hash, the Lua expression `cancels`), asked of the
 * hash only when `asked` (a Lua expression) and it held any request at
 * the script's start: it is empty except while a running task's cancel
 * waits for its attempt to end, so this is one call per script, not one
 * per job. The scripts that use it never write the hash.
 */
function cancelRequestedLua(cancels: string, asked = 'true'): string {
  return `
local anyCancel = (${asked}) and redis.call('HLEN', ${cancels}) > 0
local function cancelRequested(id)
  return anyCancel and redis.call('HEXISTS', ${cancels}, id) == 1
end`;
}

/**
 * Lua: `markStarted(key, id, head, ended)` marks the start of an attempt
 * of the job `id` (hash `key`): its mark is `head` (see `attemptMarkHead`)
 * closed with `ended`, the job's count of ended attempts (its `atm`);
 * unless its cancel was requested (see cancelRequestedLua, on the hash
 * `cancels`). Answers 2 when it was, else 1.
 */
function markStartedLua(cancels: string): string {
  return `${cancelRequestedLua(cancels)}
local function markStarted(key, id, head, ended)
  if cancelRequested(id) then return 2 end
  redis.call('HSET', key, '${ATTEMPT_FIELD}', head .. ',' .. (tonumber(ended) or 0) .. ']')
  return 1
end`;
}

/**
 * Marks the attempts of jobs of one queue a claim took one by one under
 * one token (see markStartedLua), each while its lock is still the
 * claim's. Answers, for each job, 2 when its cancel was requested (not
 * marked), 1 when marked, 0 when its lock was lost.
 * KEYS: cancels hash. ARGV: the queue's job key prefix, the token, the
 * mark's head, then the jobs' ids.
 */
const MARK_TAKEN: Script = {
  name: 'nestjsTasksMarkTaken',
  keys: 1,
  lua: `${markStartedLua('KEYS[1]')}
local prefix, token, head = ARGV[1], ARGV[2], ARGV[3]
local answers = {}
for at = 4, #ARGV do
  local key = prefix .. ARGV[at]
  local answer = 0
  if redis.call('GET', key .. ':lock') == token then
    answer = markStarted(key, ARGV[at], head, redis.call('HGET', key, 'atm'))
  end
  answers[#answers + 1] = answer
end
return answers`,
};

/**
 * Cancels a job that waits to run: takes it out of whichever waiting
 * state holds it and makes it a failed job with the cancelled data, as
 * BullMQ's own failure would (finishedOn, failedReason, the failed set, a
 * 'failed' event), releasing its deduplication id. Answers 'active' when
 * it is held by a worker, 'changed' when its data or its attempt mark is
 * no longer the one read (a take between the read and this step changes
 * only the mark), 'gone' when it waits nowhere, else 'cancelled'.
 * KEYS: job, lock, wait, paused, prioritized, delayed, failed, events.
 * ARGV: data read, cancelled data, reason, now, deduplication key prefix,
 * id, attempt mark read ('' for none).
 */
const CANCEL_WAITING: Script = {
  name: 'nestjsTasksCancelWaiting',
  keys: 8,
  lua: `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'active' end
if redis.call('HGET', KEYS[1], 'data') ~= ARGV[1] then return 'changed' end
if (redis.call('HGET', KEYS[1], '${ATTEMPT_FIELD}') or '') ~= ARGV[7] then return 'changed' end
local id = ARGV[6]
local removed = redis.call('LREM', KEYS[3], 0, id) + redis.call('LREM', KEYS[4], 0, id)
  + redis.call('ZREM', KEYS[5], id) + redis.call('ZREM', KEYS[6], id)
if removed == 0 then return 'gone' end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'finishedOn', ARGV[4], 'failedReason', ARGV[3])
redis.call('ZADD', KEYS[7], ARGV[4], id)
local dedup = redis.call('HGET', KEYS[1], 'deid')
if dedup then
  local key = ARGV[5] .. dedup
  if redis.call('GET', key) == id then redis.call('DEL', key) end
end
redis.call('XADD', KEYS[8], 'MAXLEN', '~', 10000, '*', 'event', 'failed', 'jobId', id, 'failedReason', ARGV[3], 'prev', 'waiting')
return 'cancelled'`,
};

/**
 * A periodic task's tick: advances its last enqueued tick to ARGV[2] when
 * that is later (answers 1), records it when the task has none (answers 0,
 * its schedule starts there), else answers 0.
 * KEYS: ticks hash. ARGV: task name, tick (epoch ms).
 */
const CLAIM_TICK: Script = {
  name: 'nestjsTasksClaimTick',
  keys: 1,
  lua: `
local last = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if last and tonumber(last) < tonumber(ARGV[2]) then return 1 end
if last then redis.call('HSET', KEYS[1], ARGV[1], last) end
return 0`,
};

/**
 * Registers worker ARGV[1] with the stored worker ARGV[2] unless a worker
 * of that id is live (its heartbeat within ARGV[4] ms of ARGV[3]: answers
 * 0); removes on the way the other workers whose heartbeat is older than
 * ARGV[5] ms, or that cannot be read (processes that died without
 * unregistering). Answers 1 when registered.
 * KEYS: workers hash. ARGV: id, worker, now, lease ms, stale ms.
 */
const REGISTER_WORKER: Script = {
  name: 'nestjsTasksRegisterWorker',
  keys: 1,
  lua: `
local now = tonumber(ARGV[3])
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local ok, worker = pcall(cjson.decode, fields[i + 1])
  local beat = ok and type(worker) == 'table' and tonumber(worker['heartbeatAt']) or nil
  if fields[i] == ARGV[1] then
    if beat and beat >= now - tonumber(ARGV[4]) then return 0 end
  elseif beat == nil or beat < now - tonumber(ARGV[5]) then
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`,
};

/**
 * Among the ARGV[3] jobs of a finished set that finished last, how many
 * failed with the reason ARGV[2]: answers { matching, read }.
 * KEYS: the set. ARGV: job key prefix, reason, how many to read.
 */
const COUNT_REASON: Script = {
  name: 'nestjsTasksCountReason',
  keys: 1,
  lua: `
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
local count = 0
for _, id in ipairs(ids) do
  if redis.call('HGET', ARGV[1] .. id, 'failedReason') == ARGV[2] then count = count + 1 end
end
return { count, #ids }`,
};

/**
 * Since when (epoch ms, as text) the longest-waiting job due at ARGV[2]
 * has been both added and due (the later of its `timestamp` and
 * `availableAt`: what orders each line), among the jobs next in line, or
 * false when none is: the next ARGV[3] of the wait
 * and paused lists (taken from their right end), of each priority level
 * of the prioritized set (scored priority × 2^32 + a counter), and of the
 * due delayed jobs. Bounded by the number of priority levels, never by how
 * many jobs wait: in each line the jobs that came first are next.
 * KEYS: wait, paused, prioritized, delayed. ARGV: job key prefix, now, per line.
 */
const OLDEST_DUE: Script = {
  name: 'nestjsTasksOldestDue',
  keys: 4,
  lua: `
local oldest = nil
local now = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local function consider(ids)
  for _, id in ipairs(ids) do
    local fields = redis.call('HMGET', ARGV[1] .. id, 'data', 'timestamp')
    local at = tonumber(fields[2])
    if fields[1] then
      local ok, data = pcall(cjson.decode, fields[1])
      local due = ok and type(data) == 'table' and tonumber(data['availableAt']) or nil
      if due and (at == nil or due > at) then at = due end
    end
    if at and at <= now and (oldest == nil or at < oldest) then oldest = at end
  end
end
consider(redis.call('LRANGE', KEYS[1], -count, -1))
consider(redis.call('LRANGE', KEYS[2], -count, -1))
local level = 4294967296
local from = 0
while true do
  local first = redis.call('ZRANGEBYSCORE', KEYS[3], from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #first == 0 then break end
  local start = math.floor(tonumber(first[2]) / level) * level
  consider(redis.call('ZRANGEBYSCORE', KEYS[3], start, start + level - 1, 'LIMIT', 0, count))
  from = start + level
end
consider(redis.call('ZRANGEBYSCORE', KEYS[4], 0, now * 4096 + 4095, 'LIMIT', 0, count))
if oldest == nil then return false end
return tostring(oldest)`,
};

/**
 * Takes up to ARGV[8] jobs at once through BullMQ's own move to active
 * (the script as the installed BullMQ ships it, `moveToActive`, run once
 * per job: its order, its markers, its events, its rate limit), each
 * locked with the token ARGV[3] for ARGV[4] ms, as `Worker.getNextJob`
 * takes one, and marked as started with the mark head ARGV[9] (see
 * markStartedLua).
 * Answers the jobs taken, each { fields, id, cancel requested (2) or
 * marked (1) }; the fields as BullMQ read them, before the mark.
 * KEYS: moveToActive's, then the cancels hash. ARGV: key prefix, now,
 * token, lock ms, worker name ('' for none), limiter max ('' for none),
 * limiter duration, how many, mark head.
 */
function takeJobsScript(moveToActive: string): Script {
  return {
    name: 'nestjsTasksTakeJobs',
    keys: MOVE_TO_ACTIVE_KEYS.length + 1,
    lua: `
local function moveToActive(KEYS, ARGV)
${moveToActive}
end
${markStartedLua(`KEYS[${MOVE_TO_ACTIVE_KEYS.length + 1}]`)}
local opts = { token = ARGV[3], lockDuration = tonumber(ARGV[4]) }
if ARGV[5] ~= '' then opts['name'] = ARGV[5] end
if ARGV[6] ~= '' then opts['limiter'] = { max = tonumber(ARGV[6]), duration = tonumber(ARGV[7]) } end
local args = { ARGV[1], ARGV[2], cmsgpack.pack(opts) }
local taken = {}
for i = 1, tonumber(ARGV[8]) do
  local result = moveToActive(KEYS, args)
  if type(result[1]) ~= 'table' then break end
  local id, fields = result[2], result[1]
  local ended = nil
  for f = 1, #fields, 2 do
    if fields[f] == 'atm' then ended = fields[f + 1] break end
  end
  taken[#taken + 1] = { fields, id, markStarted(ARGV[1] .. id, id, ARGV[9], ended) }
end
return taken`,
  };
}

/** How many keys BullMQ's move to finished takes: each job's arguments start with them. */
export const MOVE_TO_FINISHED_KEYS = 14;

/**
 * Moves many jobs to finished through BullMQ's own move to finished (the
 * script as the installed BullMQ ships it, `moveToFinished`, run once per
 * job, each guarded so that one job's error does not stop the others),
 * except, when ARGV[1] is 1, those whose cancel was requested (their id,
 * BullMQ's first argument, in the cancels hash): they are left as they
 * are. Each job's keys are given as the keys of the first job, the same
 * but for a few. Answers, for each job, BullMQ's answer, 1 for a job left
 * for its cancel, or the error text.
 * KEYS: cancels hash. ARGV: whether to leave the cancelled, how many
 * arguments each job has, the first job's keys and arguments, then each
 * job's: how many of its keys and arguments differ from the first's, each
 * of them as its position and value. Jobs of one claim share most of them
 * (the queue's keys, the lock's options): those travel once, and are held
 * in one table of keys and one of arguments, into which each job's own
 * values are put for its move and from which they are taken out after it
 * (BullMQ's script only reads its KEYS and ARGV).
 */
function finishJobsScript(moveToFinished: string): Script {
  return {
    name: 'nestjsTasksFinishJobs',
    keys: 1,
    lua: `
local function moveToFinished(KEYS, ARGV)
${moveToFinished}
end
local leaveCancelled = ARGV[1] == '1'
${cancelRequestedLua('KEYS[1]', 'leaveCancelled')}
local width = tonumber(ARGV[2])
local total = ${MOVE_TO_FINISHED_KEYS} + width
local keys, args = {}, {}
local function put(position, value)
  if position <= ${MOVE_TO_FINISHED_KEYS} then keys[position] = value
  else args[position - ${MOVE_TO_FINISHED_KEYS}] = value end
end
for k = 1, total do put(k, ARGV[2 + k]) end
local answers = {}
local at = 3 + total
while at <= #ARGV do
  local differing = tonumber(ARGV[at])
  local from = at + 1
  at = from + 2 * differing
  for d = from, at - 1, 2 do put(tonumber(ARGV[d]), ARGV[d + 1]) end
  local ok, answer = true, 1
  if not cancelRequested(args[1]) then
    ok, answer = pcall(moveToFinished, keys, args)
  end
  for d = from, at - 1, 2 do
    local position = tonumber(ARGV[d])
    put(position, ARGV[2 + position])
  end
  if not ok then
    answer = type(answer) == 'table' and (answer.err or answer[1]) or tostring(answer)
  elseif type(answer) ~= 'number' then
    answer = 0
  end
  answers[#answers + 1] = answer
end
return answers`,
  };
}

/** BullMQ's scripts that add one job, numbered in this order by addJobsScript, and how many keys each takes. */
export const ADD_SCRIPTS = [
  { name: 'addStandardJob', keys: 9 },
  { name: 'addPrioritizedJob', keys: 9 },
  { name: 'addDelayedJob', keys: 6 },
] as const;

/**
 * Adds many jobs of one queue through BullMQ's own adds (the scripts as
 * the installed BullMQ ships them, ADD_SCRIPTS, one run per job, each
 * guarded so that one job's error does not stop the others), after
 * listing the task queue (see registerQueueLua) unless ARGV[1] is empty.
 * Answers, for each job, BullMQ's answer (the id of the job added, or of
 * the job that holds its deduplication id; a negative code when it was
 * not added) or { error text }.
 * KEYS: queues hash, control events stream. ARGV: queue name ('' to
 * leave the list), event name, how many templates, each template's
 * script number (in ADD_SCRIPTS), its length and its keys and arguments,
 * then each job's: its template's number, how many of its keys and
 * arguments differ from the template's, each of them as its position and
 * value. Jobs of one call share their keys and often their script: those
 * travel once (as the moves of finishJobsScript).
 */
function addJobsScript(adds: readonly string[]): Script {
  return {
    name: 'nestjsTasksAddJobs',
    keys: 2,
    lua: `${ADD_SCRIPTS.map(
      (script, index) => `
local function ${script.name}(KEYS, ARGV)
${adds[index]}
end`,
    ).join('')}
local adds = { ${ADD_SCRIPTS.map((script) => script.name).join(', ')} }
local keyCounts = { ${ADD_SCRIPTS.map((script) => script.keys).join(', ')} }
if ARGV[1] ~= '' then
${registerQueueLua('KEYS[1]', 'KEYS[2]', 'ARGV[1]', 'ARGV[2]')}
end
local templates = {}
local function put(template, position, value)
  if position <= template.keyCount then template.keys[position] = value
  else template.args[position - template.keyCount] = value end
end
local at = 4
for t = 1, tonumber(ARGV[3]) do
  local number, length = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
  local template = { add = adds[number], keyCount = keyCounts[number], from = at + 1, keys = {}, args = {} }
  for k = 1, length do put(template, k, ARGV[at + 1 + k]) end
  templates[t] = template
  at = at + 2 + length
end
local answers = {}
while at <= #ARGV do
  local template = templates[tonumber(ARGV[at])]
  local differing = tonumber(ARGV[at + 1])
  local from = at + 2
  at = from + 2 * differing
  for d = from, at - 1, 2 do put(template, tonumber(ARGV[d]), ARGV[d + 1]) end
  local ok, answer = pcall(template.add, template.keys, template.args)
  for d = from, at - 1, 2 do
    local position = tonumber(ARGV[d])
    put(template, position, ARGV[template.from + position])
  end
  if not ok then
    answer = { type(answer) == 'table' and (answer.err or answer[1]) or tostring(answer) }
  end
  if answer == nil then answer = false end
  answers[#answers + 1] = answer
end
return answers`,
  };
}

/** The keys of a BullMQ queue (by their names in `Queue.keys`) that its move to active takes, in its order. */
export const MOVE_TO_ACTIVE_KEYS = [
  'wait',
  'active',
  'prioritized',
  'events',
  'stalled',
  'limiter',
  'delayed',
  'paused',
  'meta',
  'pc',
  'marker',
];

/** The scripts defined on each client, by name. */
const defined = new WeakMap<object, Set<string>>();

/** Runs `script` on `client`, defining it there first. */
export function run(
  client: RedisClient,
  script: Script,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  let names = defined.get(client);
  if (!names) defined.set(client, (names = new Set()));
  if (!names.has(script.name)) {
    client.defineCommand(script.name, {
      numberOfKeys: script.keys,
      lua: script.lua,
    });
    names.add(script.name);
  }
  return client.runCommand(script.name, [...keys, ...args]);
}

/** A script built around one of BullMQ's, built once per source. */
function builtAround(
  build: (source: string) => Script,
): (source: string) => Script {
  let last: { source: string; script: Script } | undefined;
  return (source) => {
    if (last?.source !== source) last = { source, script: build(source) };
    return last.script;
  };
}

/** Whether two arguments of a script reach it as the same bytes (numbers as their text). */
function sameArgument(
  a: string | number | Buffer,
  b: string | number | Buffer,
): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b))
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  return String(a) === String(b);
}

/**
 * Appends to `args` how `values` differ from `template` (arguments of one
 * script, of one length): how many positions differ, then each position
 * (from 1) and its value.
 */
function pushDiffering(
  args: (string | number | Buffer)[],
  template: readonly (string | number | Buffer)[],
  values: readonly (string | number | Buffer)[],
): void {
  const differing: (string | number | Buffer)[] = [];
  values.forEach((value, k) => {
    if (!sameArgument(value, template[k])) differing.push(k + 1, value);
  });
  args.push(differing.length / 2, ...differing);
}

const takeJobs = builtAround(takeJobsScript);
const finishJobs = builtAround(finishJobsScript);
/** BullMQ's add scripts, in ADD_SCRIPTS' order, joined for `addJobs`: one text per set of sources, whichever store holds them. */
const SOURCES_SEPARATOR = '\0';
const addJobs = builtAround((sources) =>
  addJobsScript(sources.split(SOURCES_SEPARATOR)),
);

export const RedisScripts = {
  /**
   * Takes up to `count` jobs of a queue in one call (see takeJobsScript),
   * `moveToActive` being BullMQ's script, at `now`; answers each job's
   * hash fields (as BullMQ's HGETALL, before the mark), id, and whether
   * its cancel was requested (then it was not marked).
   */
  async takeJobs(
    client: RedisClient,
    moveToActive: string,
    /** The queue's keys, as `Queue.keys` has them. */
    keys: Readonly<Record<string, string>>,
    cancelsKey: string,
    take: {
      now: number;
      token: string;
      lockMs: number;
      workerName: string | undefined;
      limiter: { max: number; duration: number } | undefined;
      count: number;
      /** See `attemptMarkHead`. */
      markHead: string;
    },
  ): Promise<{ fields: string[]; id: string; cancelled: boolean }[]> {
    const taken = (await run(
      client,
      takeJobs(moveToActive),
      [...MOVE_TO_ACTIVE_KEYS.map((name) => keys[name]), cancelsKey],
      [
        keys[''],
        take.now,
        take.token,
        take.lockMs,
        take.workerName ?? '',
        take.limiter?.max ?? '',
        take.limiter?.duration ?? '',
        take.count,
        take.markHead,
      ],
    )) as [string[], string, number][];
    return taken.map(([fields, id, answer]) => ({
      fields,
      id: String(id),
      cancelled: Number(answer) === 2,
    }));
  },

  /**
   * Moves many jobs to finished in one call (see finishJobsScript),
   * `moveToFinished` being BullMQ's script and each job's arguments those
   * BullMQ builds for it (`moveToFinishedArgs`: its keys, then its
   * arguments); answers, for each, BullMQ's answer (0 when moved, a
   * negative code when not), 1 when left for its requested cancel, or the
   * error its move met.
   */
  async finishJobs(
    client: RedisClient,
    moveToFinished: string,
    jobs: readonly (readonly (string | number | boolean | Buffer)[])[],
    /** When given, the jobs whose cancel was requested are left (answered 1). */
    cancelsKey: string | null,
  ): Promise<(number | Error)[]> {
    if (jobs.length === 0) return [];
    const width = jobs[0].length - MOVE_TO_FINISHED_KEYS;
    if (jobs.some((job) => job.length !== jobs[0].length))
      throw new Error('Jobs to finish with arguments of unlike lengths');
    const sent = (value: string | number | boolean | Buffer) =>
      typeof value === 'boolean' ? Number(value) : value;
    const first = jobs[0].map(sent);
    const args: (string | number | Buffer)[] = [
      cancelsKey === null ? 0 : 1,
      width,
      ...first,
    ];
    for (const job of jobs) pushDiffering(args, first, job.map(sent));
    const answers = (await run(
      client,
      finishJobs(moveToFinished),
      [cancelsKey ?? ''],
      args,
    )) as (number | string)[];
    return answers.map((answer) =>
      typeof answer === 'number' ? answer : new Error(answer),
    );
  },

  /**
   * Adds many jobs of one queue in one call (see addJobsScript), `adds`
   * being BullMQ's scripts (in ADD_SCRIPTS' order) and each job's command
   * what BullMQ would send to add it (see `addCommands`); lists the queue
   * first when `listing` is given. Answers, for each job, the id of the
   * job added or of the one holding its deduplication id, else the
   * error its add met.
   */
  async addJobs(
    client: RedisClient,
    adds: readonly string[],
    listing: {
      queuesKey: string;
      eventsKey: string;
      name: string;
      event: string;
    } | null,
    commands: readonly {
      script: string;
      args: readonly (string | number | Buffer)[];
    }[],
  ): Promise<(string | Error)[]> {
    if (commands.length === 0) return [];
    const templates = new Map<
      string,
      { number: number; args: readonly (string | number | Buffer)[] }
    >();
    const header: (string | number | Buffer)[] = [];
    const jobs: (string | number | Buffer)[] = [];
    for (const { script, args } of commands) {
      let template = templates.get(script);
      if (!template) {
        const add = ADD_SCRIPTS.findIndex(({ name }) => name === script);
        if (add < 0)
          throw new Error(
            `BullMQ adds this job with its script ${script}, which a bulk add does not run`,
          );
        template = { number: templates.size + 1, args };
        templates.set(script, template);
        header.push(add + 1, args.length, ...args);
      }
      jobs.push(template.number);
      pushDiffering(jobs, template.args, args);
    }
    const answers = (await run(
      client,
      addJobs(adds.join(SOURCES_SEPARATOR)),
      [listing?.queuesKey ?? '', listing?.eventsKey ?? ''],
      [
        listing?.name ?? '',
        listing?.event ?? '',
        templates.size,
        ...header,
        ...jobs,
      ],
    )) as (string | number | [string] | null)[];
    if (answers.length !== commands.length)
      throw new Error(
        `Adding ${commands.length} jobs in one call answered for ${answers.length}`,
      );
    return answers.map((answer) =>
      Array.isArray(answer)
        ? new Error(answer[0])
        : typeof answer === 'number' || answer === null
          ? new Error(`BullMQ did not add the job (its answer: ${answer})`)
          : String(answer),
    );
  },

  async writeHeld(
    client: RedisClient,
    jobKey: string,
    token: string,
    data: string,
    progress: string,
    /** The attempt mark to write ('' for none), or undefined to leave it. */
    mark?: string,
  ): Promise<boolean> {
    const written = await run(
      client,
      WRITE_HELD,
      [jobKey, `${jobKey}:lock`],
      mark === undefined
        ? [token, data, progress]
        : [token, data, progress, mark],
    );
    return Number(written) === 1;
  },

  /** One call for the jobs of a queue a claim took one by one (see MARK_TAKEN): whether each was marked, its cancel requested, or its lock lost. */
  async markTaken(
    client: RedisClient,
    cancelsKey: string,
    /** What the keys of the queue's jobs start with. */
    jobKeyPrefix: string,
    token: string,
    /** See `attemptMarkHead`. */
    markHead: string,
    ids: readonly string[],
  ): Promise<('cancelled' | 'marked' | 'not held')[]> {
    if (ids.length === 0) return [];
    const answers = (await run(
      client,
      MARK_TAKEN,
      [cancelsKey],
      [jobKeyPrefix, token, markHead, ...ids],
    )) as number[];
    return answers.map((answer) =>
      Number(answer) === 2
        ? 'cancelled'
        : Number(answer) === 1
          ? 'marked'
          : 'not held',
    );
  },

  async cancelWaiting(
    client: RedisClient,
    keys: {
      job: string;
      wait: string;
      paused: string;
      prioritized: string;
      delayed: string;
      failed: string;
      events: string;
      deduplicationPrefix: string;
    },
    id: string,
    read: { data: string; mark: string },
    cancelled: string,
    reason: string,
  ): Promise<'active' | 'changed' | 'gone' | 'cancelled'> {
    return (await run(
      client,
      CANCEL_WAITING,
      [
        keys.job,
        `${keys.job}:lock`,
        keys.wait,
        keys.paused,
        keys.prioritized,
        keys.delayed,
        keys.failed,
        keys.events,
      ],
      [
        read.data,
        cancelled,
        reason,
        Date.now(),
        keys.deduplicationPrefix,
        id,
        read.mark,
      ],
    )) as 'active' | 'changed' | 'gone' | 'cancelled';
  },

  /** Sets the marker of a queue (`keys`: its BullMQ keys) that jobs wait, so that the next waiting worker wakes. */
  async setMarker(
    client: RedisClient,
    keys: Readonly<Record<string, string>>,
  ): Promise<void> {
    await run(client, SET_MARKER, [keys.marker, keys.meta], []);
  },

  /** Adds `name` to the queues hash; the first time, announces it as `event` on `eventsKey`. */
  async registerQueue(
    client: RedisClient,
    queuesKey: string,
    eventsKey: string,
    name: string,
    event: string,
  ): Promise<void> {
    await run(client, REGISTER_QUEUE, [queuesKey, eventsKey], [name, event]);
  },

  /** The id of the last entry of the stream at `key`, or '0-0'. */
  async lastEntryId(client: RedisClient, key: string): Promise<string> {
    return String(await run(client, LAST_ENTRY_ID, [key], []));
  },

  async registerWorker(
    client: RedisClient,
    workersKey: string,
    workerId: string,
    worker: string,
    now: number,
    leaseMs: number,
    staleMs: number,
  ): Promise<boolean> {
    const registered = await run(
      client,
      REGISTER_WORKER,
      [workersKey],
      [workerId, worker, now, leaseMs, staleMs],
    );
    return Number(registered) === 1;
  },

  async claimTick(
    client: RedisClient,
    ticksKey: string,
    taskName: string,
    tick: number,
  ): Promise<boolean> {
    return (
      Number(await run(client, CLAIM_TICK, [ticksKey], [taskName, tick])) === 1
    );
  },

  async countReason(
    client: RedisClient,
    setKey: string,
    jobKeyPrefix: string,
    reason: string,
    limit: number,
  ): Promise<{ matching: number; read: number }> {
    const [matching, read] = (await run(
      client,
      COUNT_REASON,
      [setKey],
      [jobKeyPrefix, reason, limit],
    )) as [number, number];
    return { matching: Number(matching), read: Number(read) };
  },

  async oldestDue(
    client: RedisClient,
    keys: {
      wait: string;
      paused: string;
      prioritized: string;
      delayed: string;
    },
    jobKeyPrefix: string,
    now: number,
  ): Promise<number | null> {
    const oldest = await run(
      client,
      OLDEST_DUE,
      [keys.wait, keys.paused, keys.prioritized, keys.delayed],
      [jobKeyPrefix, now, OLDEST_DUE_PER_LINE],
    );
    return oldest === null || oldest === undefined ? null : Number(oldest);
  },
};
