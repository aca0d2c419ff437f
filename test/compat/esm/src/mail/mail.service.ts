import { Injectable } from '@nestjs/common';
import { Task } from 'nestjs-tasks';

@Injectable()
export class MailService {
  @Task()
  async sendWelcome(
    userId: number,
  ): Promise<{ sent: boolean; userId: number }> {
    return { sent: true, userId };
  }
}
