import type { TaskResultData } from '../../task/task-result-data.js';
import type { OutboxEntry } from '../outbox-store.js';
import type { TaskRow } from './sql-connection.js';

/**
 * The outbox row codec: a new result's state as the `payload` of its outbox
 * row — every field of `TaskResultData` but the id (the row's own column),
 * times as epoch milliseconds — and back.
 */

/** The fields of `TaskResultData` that hold a time. */
const TIMES = [
  'runAfter',
  'enqueuedAt',
  'startedAt',
  'finishedAt',
  'lastAttemptedAt',
] as const satisfies readonly (keyof TaskResultData)[];

/** The payload of a result's outbox row. */
export function encodeOutboxPayload(data: TaskResultData): string {
  const { id: _id, ...fields } = data;
  const payload: Record<string, unknown> = { ...fields };
  for (const name of TIMES) payload[name] = data[name]?.getTime() ?? null;
  return JSON.stringify(payload);
}

/** Reads an outbox row back; never throws, so one damaged row cannot stop a sweep. */
export function decodeOutboxRow(row: TaskRow): OutboxEntry {
  const id = String(row.id);
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(String(row.payload)) as Record<string, unknown>;
  } catch (error) {
    return { id, data: null, problem: (error as Error).message };
  }
  const fields: [string, boolean][] = [
    ['taskName', typeof payload?.taskName === 'string'],
    ['queueName', typeof payload?.queueName === 'string'],
    ['args', Array.isArray(payload?.args)],
    ...TIMES.map((name): [string, boolean] => [
      name,
      payload?.[name] === null || typeof payload?.[name] === 'number',
    ]),
  ];
  const wrong = fields.filter(([, valid]) => !valid).map(([name]) => name);
  if (wrong.length > 0)
    return { id, data: null, problem: `'${wrong.join("', '")}' unreadable` };
  const data = { ...payload, id } as Record<string, unknown>;
  for (const name of TIMES)
    data[name] =
      payload[name] === null ? null : new Date(payload[name] as number);
  return { id, data: data as unknown as TaskResultData, problem: null };
}
