import { DataSource, type DataSourceOptions, type EntityTarget } from 'typeorm';
import {
  TaskOutboxRecord,
  TaskRecord,
  TaskWorkerRecord,
} from '../../lib/index.js';
import {
  OUTBOX_COLUMNS,
  TASK_COLUMNS,
  WORKER_COLUMNS,
  type ColumnSpec,
} from '../../lib/backends/database/task-columns.js';
import { DEFAULT_TABLES } from '../../lib/backends/database/task-tables.js';

/** True only when X and Y are the same type (not merely assignable). */
type Equals<X, Y> =
  (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2
    ? true
    : false;

/** Compiles only when its type argument is `true` (checked by `npm run lint`). */
const assertType = <T extends true>(value: T): T => value;

// The entities' types are derived from the column lists.
assertType<Equals<TaskRecord['seq'], string>>(true);
assertType<Equals<TaskRecord['taskName'], string>>(true);
assertType<Equals<TaskRecord['attempts'], number>>(true);
assertType<Equals<TaskRecord['progress'], number | null>>(true);
assertType<Equals<TaskRecord['leaseExpiresAt'], string | null>>(true);
assertType<Equals<keyof TaskWorkerRecord, TaskWorkerKeys>>(true);
assertType<Equals<keyof TaskOutboxRecord, TaskOutboxKeys>>(true);
assertType<Equals<TaskOutboxRecord['availableAt'], string>>(true);
type TaskOutboxKeys = 'seq' | 'id' | 'backend' | 'payload' | 'availableAt';
type TaskWorkerKeys =
  | 'id'
  | 'hostname'
  | 'pid'
  | 'queues'
  | 'concurrency'
  | 'startedAt'
  | 'heartbeatAt';

/** Options of a DataSource that is never connected: metadata is built and validated offline. */
const DRIVERS: Record<string, DataSourceOptions> = {
  postgres: { type: 'postgres' },
  mariadb: { type: 'mariadb', database: 'test' },
  mysql: { type: 'mysql', database: 'test' },
  'better-sqlite3': { type: 'better-sqlite3', database: ':memory:' },
};

const camelCase = (name: string) =>
  name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

describe.each(Object.keys(DRIVERS))('task entities on %s', (driver) => {
  let ds: DataSource;

  beforeAll(async () => {
    ds = new DataSource({
      ...DRIVERS[driver],
      entities: [TaskRecord, TaskWorkerRecord, TaskOutboxRecord],
    } as DataSourceOptions);
    // What initialize() does before connecting, TypeORM's validation included.
    await (
      ds as unknown as { buildMetadatas(): Promise<void> }
    ).buildMetadatas();
  });

  it.each<{
    name: string;
    entity: EntityTarget<object>;
    table: string;
    columns: readonly ColumnSpec[];
  }>([
    {
      name: 'TaskRecord',
      entity: TaskRecord,
      table: DEFAULT_TABLES.tasks,
      columns: TASK_COLUMNS,
    },
    {
      name: 'TaskWorkerRecord',
      entity: TaskWorkerRecord,
      table: DEFAULT_TABLES.workers,
      columns: WORKER_COLUMNS,
    },
    {
      name: 'TaskOutboxRecord',
      entity: TaskOutboxRecord,
      table: DEFAULT_TABLES.outbox,
      columns: OUTBOX_COLUMNS,
    },
  ])(
    '$name has one column per column spec (but stand-ins for indexes), no index and synchronize: false',
    ({ entity, table, columns }) => {
      const metadata = ds.getMetadata(entity);
      expect(metadata.tableName).toBe(table);
      expect(metadata.synchronize).toBe(false);
      expect(metadata.indices.filter((index) => !index.isUnique)).toEqual([]);
      expect(
        metadata.columns.map((column) => ({
          name: column.databaseName,
          property: column.propertyName,
          nullable: column.isNullable,
          primary: column.isPrimary,
          generated: column.isGenerated,
        })),
      ).toEqual(
        columns
          .filter((column) => !column.standsInFor)
          .map((column) => ({
            name: column.name,
            property: camelCase(column.name),
            nullable: column.nullable ?? false,
            primary: column.type === 'seq' || (column.primary ?? false),
            generated: column.type === 'seq',
          })),
      );
    },
  );
});
