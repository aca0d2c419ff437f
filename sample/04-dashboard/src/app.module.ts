import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseBackend, TasksModule } from 'nestjs-tasks';
import { TasksDashboardModule } from 'nestjs-tasks/dashboard';
import { BasicAuthGuard } from './basic-auth.guard.js';
import { DemoController } from './demo/demo.controller.js';
import { DemoTasks } from './demo/demo.tasks.js';
import { ReportsController } from './reports/reports.controller.js';
import { ReportsService } from './reports/reports.service.js';

@Module({
  imports: [
    // PostgreSQL. `synchronize` creates the task tables under `tableName`
    // (production runs migrations: `createTaskMigrations(tableName)`).
    TypeOrmModule.forRootAsync({
      useFactory: () => ({
        type: 'postgres',
        url:
          process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
        synchronize: true,
      }),
    }),
    // Read when the app boots: the table's name may come from the environment.
    TasksModule.forRootAsync({
      useFactory: () => ({
        backends: {
          default: {
            backend: DatabaseBackend,
            queues: ['default', 'reports', 'emails'],
            options: {
              tableName: process.env.TASKS_TABLE ?? 'dashboard_sample_tasks',
            },
          },
        },
        // A worker inside this process, so that the dashboard has something to show.
        worker: { concurrency: 4 },
      }),
    }),
    // The dashboard at /tasks, behind HTTP Basic authentication, with retry
    // and cancel buttons.
    TasksDashboardModule.forRoot({ guard: BasicAuthGuard, readOnly: false }),
  ],
  controllers: [ReportsController, DemoController],
  providers: [ReportsService, DemoTasks],
})
export class AppModule {}
