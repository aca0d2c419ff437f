import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseBackend, TasksModule } from 'nestjs-tasks';
import { MailService } from './mail/mail.service.js';
import { UsersController } from './users/users.controller.js';

@Module({
  imports: [
    // The app's own database: SQLite in a file. `autoLoadEntities` picks up the
    // task tables; `synchronize` creates them (production runs taskMigrations).
    TypeOrmModule.forRootAsync({
      useFactory: () => ({
        type: 'better-sqlite3',
        database: process.env.DATABASE_FILE ?? 'quickstart.sqlite',
        enableWAL: true,
        autoLoadEntities: true,
        synchronize: true,
      }),
    }),
    // Tasks are stored in that database and run by a worker inside this
    // process. A larger app drops `worker` and runs `nest-tasks tasks:work`.
    TasksModule.forRoot({
      backends: {
        default: { backend: DatabaseBackend, queues: ['default', 'emails'] },
      },
      worker: { concurrency: 4 },
    }),
  ],
  controllers: [UsersController],
  providers: [MailService],
})
export class AppModule {}
