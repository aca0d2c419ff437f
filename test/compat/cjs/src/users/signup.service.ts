import { Injectable } from '@nestjs/common';
import { TaskQueue } from 'nestjs-tasks';
import { MailService } from '../mail/mail.service';
import type { User } from './user.entity';
import { UsersStore } from './users.store';

@Injectable()
export class SignupService {
  constructor(
    private readonly tasks: TaskQueue,
    private readonly users: UsersStore,
  ) {}

  /** The user and the welcome mail task commit together, or neither does. */
  signUp(email: string): Promise<{ user: User; taskId: string }> {
    return this.tasks.transaction(async (manager) => {
      const user = await this.users.create(manager, email);
      const welcome = await this.tasks.enqueue(
        MailService,
        'sendWelcome',
        user.id,
      );
      if (!email.includes('@')) throw new Error(`'${email}' is not an email`);
      return { user, taskId: welcome.id };
    });
  }
}
