import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseBackend, TasksModule } from 'nestjs-tasks';
import { databaseOptions } from './database.js';
import { MailService } from './mail/mail.service.js';
import { SignupService } from './users/signup.service.js';
import { UsersStore } from './users/users.store.js';

@Module({
  imports: [
    TypeOrmModule.forRoot({ ...databaseOptions, autoLoadEntities: true }),
    TasksModule.forRoot({
      backends: { default: { backend: DatabaseBackend } },
    }),
  ],
  providers: [MailService, SignupService, UsersStore],
})
export class AppModule {}
