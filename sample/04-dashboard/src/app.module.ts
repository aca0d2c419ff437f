import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseBackend, TasksModule } from 'nestjs-tasks';
import { TasksDashboardModule } from 'nestjs-tasks/dashboard';
import { BasicAuthGuard } from './basic-auth.guard.js';
import { ReportsController } from './reports/reports.controller.js';
import { ReportsService } from './reports/reports.service.js';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      useFactory: () => ({
        type: 'better-sqlite3',
        database: process.env.DATABASE_FILE ?? 'dashboard-sample.sqlite',
        enableWAL: true,
        autoLoadEntities: true,
        synchronize: true,
      }),
    }),
    TasksModule.forRoot({
      backends: {
        default: { backend: DatabaseBackend, queues: ['default', 'reports'] },
      },
      worker: { concurrency: 2 },
    }),
    // The dashboard at /tasks, behind HTTP Basic authentication, with retry
    // and cancel buttons.
    TasksDashboardModule.forRoot({ guard: BasicAuthGuard, readOnly: false }),
  ],
  controllers: [ReportsController],
  providers: [ReportsService],
})
export class AppModule {}
