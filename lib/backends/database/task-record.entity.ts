import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** The default name of the table that holds task results. */
export const TASK_TABLE = 'nestjs_tasks';

/**
 * One enqueued run of a task, as the DatabaseBackend stores it. Times are
 * epoch milliseconds; JSON values are stored as text. The indexes here serve
 * `synchronize: true`; `taskMigrations` create the exact, per-database ones
 * (partial and descending where the database has them).
 */
@Entity({ name: TASK_TABLE })
@Index('nestjs_tasks_claim', ['status', 'priority', 'availableAt', 'seq'])
@Index('nestjs_tasks_lease', ['status', 'leaseExpiresAt'])
@Index('nestjs_tasks_unique', ['taskName', 'uniqueKey'])
@Index('nestjs_tasks_finished', ['status', 'finishedAt'])
export class TaskRecord {
  /** Enqueue order. An integer here so SQLite can autoincrement it; taskMigrations make it BIGINT where that differs. */
  @PrimaryGeneratedColumn('increment')
  seq!: number;

  @Column({ type: 'varchar', length: 36, unique: true })
  id!: string;

  @Column({ name: 'task_name', type: 'varchar', length: 255 })
  taskName!: string;

  @Column({ type: 'varchar', length: 100 })
  backend!: string;

  @Column({ name: 'queue_name', type: 'varchar', length: 100 })
  queueName!: string;

  @Column({ type: 'integer' })
  priority!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: string;

  @Column({ type: 'text' })
  args!: string;

  @Column({ name: 'run_after', type: 'bigint', nullable: true })
  runAfter!: string | null;

  @Column({ name: 'available_at', type: 'bigint' })
  availableAt!: string;

  @Column({ name: 'enqueued_at', type: 'bigint' })
  enqueuedAt!: string;

  @Column({ name: 'started_at', type: 'bigint', nullable: true })
  startedAt!: string | null;

  @Column({ name: 'finished_at', type: 'bigint', nullable: true })
  finishedAt!: string | null;

  @Column({ name: 'last_attempted_at', type: 'bigint', nullable: true })
  lastAttemptedAt!: string | null;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ name: 'max_attempts', type: 'integer', default: 1 })
  maxAttempts!: number;

  @Column({ name: 'worker_ids', type: 'text' })
  workerIds!: string;

  @Column({ name: 'errors', type: 'text' })
  errors!: string;

  @Column({ name: 'return_value', type: 'text', nullable: true })
  returnValue!: string | null;

  @Column({ type: 'double precision', nullable: true })
  progress!: number | null;

  @Column({ type: 'text' })
  metadata!: string;

  @Column({ name: 'unique_key', type: 'varchar', length: 255, nullable: true })
  uniqueKey!: string | null;

  @Column({ name: 'worker_id', type: 'varchar', length: 100, nullable: true })
  workerId!: string | null;

  @Column({ name: 'lease_expires_at', type: 'bigint', nullable: true })
  leaseExpiresAt!: string | null;
}
