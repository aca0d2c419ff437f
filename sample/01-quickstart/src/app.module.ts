import { Module } from '@nestjs/common';
import { TasksModule } from 'nestjs-tasks';
import { MailService } from './mail/mail.service.js';
import { UsersController } from './users/users.controller.js';

@Module({
  imports: [
    // No options: a single `default` backend, the ImmediateBackend, which runs
    // each task in-process during `enqueue` and returns a finished result.
    TasksModule.forRoot(),
  ],
  controllers: [UsersController],
  providers: [MailService],
})
export class AppModule {}
