import type { ResultsAdmin } from '../../lib/backends/results-admin.js';
import { TaskResultStatus, type TaskResultData } from '../../lib/index.js';

/** Every page of a list, following the cursors. */
export async function allPages(
  admin: ResultsAdmin,
  query: Parameters<ResultsAdmin['list']>[0],
): Promise<TaskResultData[][]> {
  const pages: TaskResultData[][] = [];
  let after: string | undefined;
  do {
    const page = await admin.list({ ...query, after });
    pages.push(page.results);
    after = page.next ?? undefined;
  } while (after !== undefined);
  return pages;
}

/**
 * Expects every read and action of `admin` to refuse, with a `TasksError`
 * naming the field, filter values no result can hold: control characters,
 * an id or a queue name longer than the backend keeps (`longId`,
 * `longName` characters), a status that is none, a value that is not text.
 */
export async function expectRefusedFilters(
  admin: ResultsAdmin,
  { longId, longName }: { longId: number; longName: number },
): Promise<void> {
  const refused: [string, () => Promise<unknown>][] = [
    ['task', () => admin.list({ limit: 1, taskName: 'a\u0000b' })],
    ['queue', () => admin.list({ limit: 1, queue: 'a\u0000b' })],
    ['id', () => admin.list({ limit: 1, id: 'x'.repeat(longId) })],
    [
      'status',
      () =>
        admin.list({
          limit: 1,
          status: 'DONE' as typeof TaskResultStatus.FAILED,
        }),
    ],
    ['find', () => admin.find('a\u0000b')],
    ['retry', () => admin.retry('a\u0000b')],
    [
      'retryMatching',
      () => admin.retryMatching({ queue: 'q'.repeat(longName) }),
    ],
    ['cancelMatching', () => admin.cancelMatching({ taskName: 'a\u0000b' })],
    [
      'not text',
      () =>
        admin.retryMatching({
          status: { x: 1 } as unknown as typeof TaskResultStatus.FAILED,
        }),
    ],
  ];
  for (const [what, call] of refused)
    await expect(
      call().then(
        () => what,
        (error: Error) => [what, error.constructor.name, error.message],
      ),
    ).resolves.toEqual([
      what,
      'TasksError',
      expect.stringMatching(/^The results filter '\w+' must be/),
    ]);
}
