import { Controller, Get, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { TaskQueue } from 'nestjs-tasks';
import { MailService } from '../mail/mail.service.js';

@Controller('users')
export class UsersController {
  private nextId = 1;

  constructor(private readonly tasks: TaskQueue) {}

  @Post()
  async create() {
    const id = this.nextId++;
    const result = await this.tasks.enqueue(MailService, 'sendWelcome', id);
    return { id, taskId: result.id, status: result.status };
  }

  @Get('tasks/:id')
  async task(@Param('id', ParseUUIDPipe) id: string) {
    const result = await this.tasks.getResult(id);
    return {
      id: result.id,
      status: result.status,
      returnValue: result.status === 'SUCCESSFUL' ? result.returnValue : null,
      errors: result.errors,
    };
  }
}
