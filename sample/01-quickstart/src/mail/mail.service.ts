import { Injectable, Logger } from '@nestjs/common';
import { Task } from 'nestjs-tasks';

@Injectable()
export class MailService {
  private readonly logger = new Logger(MailService.name);

  @Task({ queueName: 'emails', priority: 10 })
  async sendWelcome(
    userId: number,
  ): Promise<{ sent: boolean; userId: number }> {
    this.logger.log(`Sending the welcome mail to user ${userId}`);
    return { sent: true, userId };
  }
}
