import { Module, type DynamicModule } from '@nestjs/common';
import { importOptionalPeer } from '../../optional-peer.js';
import { TaskOutboxRecord } from './task-outbox-record.entity.js';
import { TaskRecord } from './task-record.entity.js';
import { TaskScheduleRecord } from './task-schedule-record.entity.js';
import { TaskWorkerRecord } from './task-worker-record.entity.js';

/** Stands in the module graph where the task entities were registered. */
@Module({})
class TaskEntitiesModule {}

/**
 * Registers `TaskRecord`, `TaskWorkerRecord`, `TaskScheduleRecord` and `TaskOutboxRecord` with `@nestjs/typeorm`'s
 * `autoLoadEntities` for a named DataSource, when that package is installed.
 * Only the registration is kept: no repository providers are added.
 */
export async function registerTaskEntities(
  dataSourceName: string,
): Promise<DynamicModule> {
  try {
    const { TypeOrmModule } =
      await importOptionalPeer<typeof import('@nestjs/typeorm')>(
        '@nestjs/typeorm',
      );
    TypeOrmModule.forFeature(
      [TaskRecord, TaskWorkerRecord, TaskScheduleRecord, TaskOutboxRecord],
      dataSourceName,
    );
  } catch {
    // Without @nestjs/typeorm the application lists the entities (or runs taskMigrations) itself.
  }
  return { module: TaskEntitiesModule };
}
