import { Injectable, Logger } from '@nestjs/common';
import { Task } from 'nestjs-tasks';

@Injectable()
export class WelcomeService {
  private readonly logger = new Logger(WelcomeService.name);

  /** Runs in a `tasks:work` process, taken from Redis; retried once after 2 s if it throws. */
  @Task({ queueName: 'emails', maxAttempts: 2, retryDelay: 2000 })
  async sendWelcome(email: string): Promise<{ sentTo: string }> {
    this.logger.log(`Sending the welcome mail to ${email}`);
    return { sentTo: email };
  }
}
