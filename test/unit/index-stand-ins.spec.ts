import { MysqlDialect } from '../../lib/backends/database/dialects/mysql.dialect.js';
import { PostgresDialect } from '../../lib/backends/database/dialects/postgres.dialect.js';
import { SqliteDialect } from '../../lib/backends/database/dialects/sqlite.dialect.js';
import {
  CLAIM_INDEX,
  CURRENT_SCHEMA,
  FINISHED_INDEX,
  SCHEDULED_INDEX,
  TASK_INDEXES,
} from '../../lib/backends/database/task-columns.js';
import { rowsOfStatus } from '../../lib/backends/database/stored-status.js';
import { tablesFor } from '../../lib/backends/database/task-tables.js';

const tables = tablesFor('t');
const index = (suffix: string) =>
  TASK_INDEXES.find((i) => i.suffix === suffix)!;

/** The DDL of the tasks table and its indexes, as one dialect creates it now. */
const ddlOf = (dialect: MysqlDialect | PostgresDialect | SqliteDialect) =>
  dialect.createTablesSql(tables, CURRENT_SCHEMA, ['tasks']).join(';\n');

describe('indexes where the database has no partial ones (MySQL/MariaDB)', () => {
  const mysql = new MysqlDialect();

  it('leads the claim, finished and scheduled indexes with a column that holds the status while the row is in them', () => {
    const ddl = ddlOf(mysql);
    for (const [column, condition] of [
      ['claim_status', "status = 'READY'"],
      ['finished_status', 'finished_at IS NOT NULL'],
      ['scheduled_status', "status = 'SCHEDULED'"],
    ])
      expect(ddl).toContain(
        `\`${column}\` VARCHAR(100) GENERATED ALWAYS AS (CASE WHEN ${condition} THEN \`status\` END) VIRTUAL`,
      );
    expect(ddl).toContain(
      'CREATE INDEX `t_claim` ON `t` (`claim_status`, `priority` DESC, `available_at`, `seq`)',
    );
    expect(ddl).toContain(
      'CREATE INDEX `t_finished` ON `t` (`finished_status`, `finished_at`)',
    );
    expect(ddl).toContain(
      'CREATE INDEX `t_scheduled` ON `t` (`scheduled_status`, `available_at`)',
    );
    // Without a stand-in, led by status; the unique index holds its key's bytes.
    expect(ddl).toContain(
      'CREATE INDEX `t_lease` ON `t` (`status`, `lease_expires_at`)',
    );
    expect(ddl).toContain(
      'CREATE UNIQUE INDEX `t_unique` ON `t` (`task_name`, `held_unique_key`)',
    );
  });

  it('reads the rows of those indexes by the stand-in: one status by its equality, the prefix of their entries', () => {
    const claim = mysql.readThrough(CLAIM_INDEX);
    expect([
      claim.rows,
      claim.column('status'),
      claim.column('priority'),
    ]).toEqual(["claim_status = 'READY'", 'claim_status', 'priority']);
    const lease = mysql.readThrough(index('lease'));
    expect([lease.rows, lease.column('status')]).toEqual([
      "status = 'RUNNING'",
      'status',
    ]);
    expect(rowsOfStatus('SUCCESSFUL', mysql)).toEqual({
      index: FINISHED_INDEX,
      where: "finished_status = 'SUCCESSFUL' AND finished_status IS NOT NULL",
      order: 'finished_at',
    });
    expect(rowsOfStatus('READY', mysql)).toMatchObject({
      where: "claim_status = 'READY'",
      order: 'priority DESC, available_at, seq',
    });
    expect(rowsOfStatus('SCHEDULED', mysql)).toMatchObject({
      where: "scheduled_status = 'SCHEDULED'",
      order: 'available_at',
    });
  });

  it('turns the indexes of a table led by status into those of stand-ins in one statement, and back', () => {
    const rebuilt = [CLAIM_INDEX, FINISHED_INDEX, SCHEDULED_INDEX];
    const suffixes = rebuilt.map((spec) => spec.suffix);
    const standIns = CURRENT_SCHEMA.taskColumns.filter(
      (column) => 'leads' in column,
    );
    expect(standIns).toHaveLength(3);
    const up = mysql.alterTaskTableSql(tables, {
      addColumns: standIns,
      dropIndexes: suffixes,
      addIndexes: rebuilt,
    });
    expect(up).toMatch(
      /^ALTER TABLE `t` ADD COLUMN `claim_status` VARCHAR\(100\) GENERATED .*, ADD COLUMN `finished_status` .*, ADD COLUMN `scheduled_status` .*, DROP INDEX `t_claim`, DROP INDEX `t_finished`, DROP INDEX `t_scheduled`, ADD INDEX `t_claim` \(`claim_status`, `priority` DESC, `available_at`, `seq`\), ADD INDEX `t_finished` \(`finished_status`, `finished_at`\), ADD INDEX `t_scheduled` \(`scheduled_status`, `available_at`\)$/,
    );
    const down = mysql.alterTaskTableSql(tables, {
      dropIndexes: suffixes,
      addIndexes: rebuilt,
      dropColumns: standIns.map((column) => column.name),
    });
    expect(down).toBe(
      'ALTER TABLE `t` DROP INDEX `t_claim`, DROP INDEX `t_finished`, DROP INDEX `t_scheduled`, ' +
        'ADD INDEX `t_claim` (`status`, `priority` DESC, `available_at`, `seq`), ' +
        'ADD INDEX `t_finished` (`status`, `finished_at`), ADD INDEX `t_scheduled` (`status`, `available_at`), ' +
        'DROP COLUMN `claim_status`, DROP COLUMN `finished_status`, DROP COLUMN `scheduled_status`',
    );
  });

  it('keeps the unique-key stand-in to the unique index: a migration of the index before it was unique leads it with status', () => {
    const heldKey = CURRENT_SCHEMA.taskColumns.filter(
      (column) => column.name === 'held_unique_key',
    );
    const notUnique = { ...index('unique'), unique: undefined };
    expect(mysql.createTaskIndexSql(tables, notUnique, heldKey)).toBe(
      'CREATE INDEX `t_unique` ON `t` (`status`, `task_name`, `unique_key`)',
    );
  });
});

describe.each([
  ['PostgreSQL', new PostgresDialect()],
  ['SQLite', new SqliteDialect()],
])('indexes on %s', (_name, dialect) => {
  it('are partial, with no stand-in columns, and read as they are', () => {
    const ddl = ddlOf(dialect);
    for (const name of ['claim_status', 'finished_status', 'scheduled_status'])
      expect(ddl).not.toContain(name);
    expect(ddl).toMatch(
      /_claim" ON "t" \("priority" DESC, "available_at", "seq"\) WHERE status = 'READY'/,
    );
    const claim = dialect.readThrough(CLAIM_INDEX);
    expect([claim.rows, claim.column('priority')]).toEqual([
      "status = 'READY'",
      'priority',
    ]);
    expect(rowsOfStatus('SUCCESSFUL', dialect).where).toBe(
      "status = 'SUCCESSFUL' AND finished_at IS NOT NULL",
    );
  });
});
