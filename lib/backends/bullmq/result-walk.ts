import { TasksError } from '../../errors/tasks.error.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { BullMQStore } from './bullmq-store.js';
import {
  ResultScripts,
  type LineEntry,
  type LineQuery,
  type LineWalk,
} from './result-scripts.js';

const { READY, RUNNING, SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;

/** How many entries of a line one Lua call reads at most (it blocks Redis while it reads). */
const LINE_CALL_BOUND = 1000;

/** BullMQ's lines of a queue where jobs wait or run (lists and sorted sets of ids). */
export type Line = 'active' | 'delayed' | 'prioritized' | 'paused' | 'wait';
/** BullMQ's sorted sets of a queue's finished jobs, scored by finish time. */
export type FinishedSet = 'completed' | 'failed';

/** The lines that are lists (the others are sorted sets). */
const LISTS = new Set<string>(['active', 'paused', 'wait']);

/** BullMQ's state of the jobs of each line or set, as the codec reads it. */
const STATE_OF: Record<Line | FinishedSet, string> = {
  active: 'active',
  delayed: 'delayed',
  prioritized: 'prioritized',
  paused: 'paused',
  wait: 'waiting',
  completed: 'completed',
  failed: 'failed',
};

/**
 * The READY lines, newest first: the reverse of BullMQ's order of running
 * them (deferred jobs latest due first, then waiting jobs last in line
 * first: with one priority, the last to become waiting first).
 */
const READY_LINES: Line[] = ['delayed', 'prioritized', 'paused', 'wait'];

/**
 * What a walk covers: the lines, walked one after the other and each
 * queue by queue (in the order of their names), then the finished sets of
 * every queue merged, latest finished first.
 */
export interface WalkPlan {
  lines: Line[];
  sets: FinishedSet[];
  /** Of the failed jobs, only the cancelled ones (true) or only the others (false). */
  cancelled?: boolean;
  /** The name of the merged sets in a cursor: a cursor of another plan's is refused. */
  merged: string;
}

/** The walk of the results of `status` (any, undefined), newest first. */
export function planOf(status: TaskResultStatus | undefined): WalkPlan {
  switch (status) {
    case READY:
      return { lines: READY_LINES, sets: [], merged: '' };
    case RUNNING:
      return { lines: ['active'], sets: [], merged: '' };
    case SUCCESSFUL:
      return { lines: [], sets: ['completed'], merged: 'successful' };
    case FAILED:
      return {
        lines: [],
        sets: ['failed'],
        cancelled: false,
        merged: 'failed',
      };
    case CANCELLED:
      return {
        lines: [],
        sets: ['failed'],
        cancelled: true,
        merged: 'cancelled',
      };
    default:
      return {
        lines: ['active', ...READY_LINES],
        sets: ['completed', 'failed'],
        merged: 'finished',
      };
  }
}

/** Where a walk is: at an entry of a line of a queue, or of the merged sets (queue ''). */
export interface WalkPosition extends LineEntry {
  /** The line, or the plan's `merged`. */
  stage: string;
  queue: string;
}

/** A job a walk found, and BullMQ's state of it there. */
export interface WalkMatch {
  queue: string;
  id: string;
  state: string;
  at: WalkPosition;
}

/** What a walk found. */
export interface WalkOutcome {
  /** Newest first. */
  matches: WalkMatch[];
  /**
   * Where it stopped searching, its bound reached before it found what
   * it wanted; null when it found that or read everything.
   */
  frontier: WalkPosition | null;
  /** How many jobs it read. */
  read: number;
}

/** What every job a walk finds must be, besides being in its lines or sets. */
export interface WalkFilter {
  taskName?: string;
  /** Finished at or before this (epoch ms). */
  finishedBy?: number;
  /** Added at or before this (epoch ms). */
  addedBy?: number;
}

/** A cursor: `<stage>:<queue>:<score or index>:<id>` (queue names hold no ':'). */
export const encodePosition = (at: WalkPosition): string =>
  `${at.stage}:${at.queue}:${at.pos}:${at.id}`;

/** Whether entry `a` comes before `b` newest first: a higher score, or the same and a higher id. */
const before = (a: LineEntry, b: LineEntry): boolean =>
  a.pos > b.pos || (a.pos === b.pos && a.id > b.id);

/**
 * A walk of the results of some queues along a plan, newest first, keyset
 * paged: each call goes on after a position, reading at most a bound of
 * jobs (the lines and sets are BullMQ's own; nothing else is kept).
 */
export class ResultWalk {
  constructor(
    private readonly store: BullMQStore,
    /** Sorted. */
    private readonly queues: readonly string[],
    private readonly plan: WalkPlan,
    private readonly filter: WalkFilter,
  ) {}

  /** Reads a cursor of this walk; a `TasksError` when it is not one. */
  parse(cursor: string): WalkPosition {
    const match = /^([a-z]+):([^:]*):(\d{1,16}):(.+)$/su.exec(cursor);
    const [, stage, queue, pos, id] = match ?? [];
    const inLine = (this.plan.lines as string[]).includes(stage);
    const valid =
      match !== null &&
      Number.isSafeInteger(Number(pos)) &&
      !/\p{Cc}/u.test(id) &&
      (inLine
        ? this.queues.includes(queue)
        : stage === this.plan.merged && queue === '');
    if (!valid) throw new TasksError(TaskMessages.badResultCursor(cursor));
    return { stage, queue, pos: Number(pos), id };
  }

  /**
   * Up to `want` jobs after `after` (from the start without), reading at
   * most about `bound`: the lines' segments (a line of a queue) one after
   * the other with what remains of the bound, then the finished sets.
   */
  async walk(
    want: number,
    bound: number,
    after?: WalkPosition,
  ): Promise<WalkOutcome> {
    const segments = this.plan.lines.flatMap((line) =>
      this.queues.map((queue) => ({ line, queue })),
    );
    let index = after
      ? segments.findIndex(
          ({ line, queue }) => line === after.stage && queue === after.queue,
        )
      : 0;
    if (index < 0) index = segments.length;
    let from: LineEntry | undefined =
      index < segments.length ? after : undefined;
    const matches: WalkMatch[] = [];
    let read = 0;
    let last: WalkPosition | null = after ?? null;
    for (; index < segments.length; index++) {
      if (read >= bound) return { matches, frontier: last, read };
      const { line, queue } = segments[index];
      const walked = await this.walkLine(queue, line, {
        kind: LISTS.has(line) ? 'list' : 'zset',
        after: from && { pos: from.pos, id: from.id },
        want: want - matches.length,
        bound: bound - read,
        taskName: this.filter.taskName,
        addedBy: this.filter.addedBy,
      });
      from = undefined;
      read += walked.read;
      for (const entry of walked.matches)
        matches.push(this.matchOf(line, queue, line, entry));
      if (walked.last) last = { stage: line, queue, ...walked.last };
      if (matches.length >= want) return { matches, frontier: null, read };
      if (!walked.exhausted) return { matches, frontier: last, read };
    }
    if (this.plan.sets.length === 0) return { matches, frontier: null, read };
    if (read >= bound) return { matches, frontier: last, read };
    const merged = await this.merge(
      want - matches.length,
      bound - read,
      after?.stage === this.plan.merged ? after : undefined,
    );
    return {
      matches: [...matches, ...merged.matches],
      frontier: merged.frontier,
      read: read + merged.read,
    };
  }

  /**
   * The finished sets of every queue merged, latest finished first: each
   * walked with its share of the bound; what comes after the nearest place
   * where one stopped unread is left to the next call.
   */
  private async merge(
    want: number,
    bound: number,
    after?: LineEntry,
  ): Promise<WalkOutcome> {
    const parts = this.plan.sets.flatMap((set) =>
      this.queues.map((queue) => ({ set, queue })),
    );
    if (parts.length === 0) return { matches: [], frontier: null, read: 0 };
    const share = Math.max(want, Math.floor(bound / parts.length));
    const { cancelled } = this.plan;
    const reason = TaskMessages.bullmqCancelledReason();
    const walks = await Promise.all(
      parts.map(({ set, queue }) =>
        this.walkLine(queue, set, {
          kind: 'zset',
          after: after && { pos: after.pos, id: after.id },
          want,
          bound: share,
          taskName: this.filter.taskName,
          reason:
            set === 'failed' && cancelled !== undefined
              ? { text: reason, is: cancelled }
              : undefined,
          maxScore: this.filter.finishedBy,
        }),
      ),
    );
    let edge: LineEntry | null = null;
    for (const walked of walks)
      if (
        !walked.exhausted &&
        walked.last &&
        (!edge || before(walked.last, edge))
      )
        edge = walked.last;
    const found = walks
      .flatMap((walked, i) =>
        walked.matches.map((entry) =>
          this.matchOf(parts[i].set, parts[i].queue, this.plan.merged, entry),
        ),
      )
      .filter(({ at }) => !edge || !before(edge, at))
      .sort((a, b) => (before(a.at, b.at) ? -1 : before(b.at, a.at) ? 1 : 0));
    const matches = found.slice(0, want);
    return {
      matches,
      frontier:
        matches.length < want && edge
          ? { stage: this.plan.merged, queue: '', ...edge }
          : null,
      read: walks.reduce((sum, walked) => sum + walked.read, 0),
    };
  }

  private matchOf(
    line: Line | FinishedSet,
    queue: string,
    stage: string,
    entry: LineEntry,
  ): WalkMatch {
    return {
      queue,
      id: entry.id,
      state: STATE_OF[line],
      at: { stage, queue: stage === this.plan.merged ? '' : queue, ...entry },
    };
  }

  /**
   * A walk of one line, in Lua calls of at most LINE_CALL_BOUND entries
   * each (one call blocks Redis while it reads), each going on after the
   * last entry the one before read.
   */
  private async walkLine(
    queue: string,
    line: Line | FinishedSet,
    query: LineQuery,
  ): Promise<LineWalk> {
    const prefix = this.store.queuePrefix(queue);
    const client = await this.store.client();
    const matches: LineEntry[] = [];
    let read = 0;
    let after = query.after;
    for (;;) {
      const part = await ResultScripts.walkLine(client, prefix + line, prefix, {
        ...query,
        after,
        want: query.want - matches.length,
        bound: Math.min(LINE_CALL_BOUND, query.bound - read),
      });
      matches.push(...part.matches);
      read += part.read;
      if (
        part.exhausted ||
        !part.last ||
        matches.length >= query.want ||
        read >= query.bound
      )
        return { matches, read, exhausted: part.exhausted, last: part.last };
      after = part.last;
    }
  }
}

/**
 * Where a bulk walk goes on after a batch: at `next`, moved back in a
 * waiting list by the batch's jobs that left it before it (a list's later
 * jobs move up as earlier ones leave).
 */
export function shifted(
  next: WalkPosition,
  found: readonly WalkMatch[],
  left: ReadonlySet<string>,
): WalkPosition {
  if (next.stage !== 'wait' && next.stage !== 'paused') return next;
  const moved = found.filter(
    ({ at, id }) =>
      left.has(id) &&
      at.stage === next.stage &&
      at.queue === next.queue &&
      at.pos < next.pos,
  ).length;
  return { ...next, pos: next.pos - moved };
}
