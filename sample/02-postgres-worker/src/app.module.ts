import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseBackend, TasksModule } from 'nestjs-tasks';
import { HealthModule } from './health/health.module.js';
import { Order } from './orders/order.entity.js';
import { OrdersController } from './orders/orders.controller.js';
import { ShippingService } from './orders/shipping.service.js';

/** Shared by the web process (main.ts) and the worker process (tasks.ts). */
@Module({
  imports: [
    // PostgreSQL. `synchronize` creates the orders table and, with the custom
    // `tableName` below, the task tables (production runs migrations:
    // `createTaskMigrations('sample_tasks')` beside the app's own).
    TypeOrmModule.forRootAsync({
      useFactory: () => ({
        type: 'postgres',
        url:
          process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
        entities: [Order],
        synchronize: true,
      }),
    }),
    // No `worker` here: the web process only enqueues; `tasks:work` runs them.
    TasksModule.forRoot({
      backends: {
        default: {
          backend: DatabaseBackend,
          queues: ['shipping'],
          options: { tableName: 'sample_tasks' },
        },
      },
    }),
    HealthModule,
  ],
  controllers: [OrdersController],
  providers: [ShippingService],
})
export class AppModule {}
