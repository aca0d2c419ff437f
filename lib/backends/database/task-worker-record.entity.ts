import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The default name of the table where running workers heartbeat. */
export const WORKER_TABLE = 'nestjs_task_workers';

/** A running worker: the DatabaseBackend's proof of life for the tasks it holds. */
@Entity({ name: WORKER_TABLE })
export class TaskWorkerRecord {
  @PrimaryColumn({ type: 'varchar', length: 100 })
  id!: string;

  @Column({ type: 'varchar', length: 255 })
  hostname!: string;

  @Column({ type: 'integer' })
  pid!: number;

  @Column({ type: 'text' })
  queues!: string;

  @Column({ type: 'integer' })
  concurrency!: number;

  @Column({ name: 'started_at', type: 'bigint' })
  startedAt!: string;

  @Column({ name: 'heartbeat_at', type: 'bigint' })
  heartbeatAt!: string;
}
