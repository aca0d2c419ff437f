import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Param,
  Post,
} from '@nestjs/common';
import { TaskQueue, TaskResultStatus } from 'nestjs-tasks';
import { WelcomeService } from './welcome.service.js';

@Controller('signups')
export class SignupsController {
  constructor(private readonly tasks: TaskQueue) {}

  /** Enqueues the welcome mail as a BullMQ job; any process can read its result by id. */
  @Post()
  async signUp(
    @Body() body: { email?: unknown },
  ): Promise<{ taskId: string; status: string }> {
    if (typeof body?.email !== 'string' || !body.email.includes('@'))
      throw new BadRequestException('Give an email address: {"email":"…"}');
    const result = await this.tasks.enqueue(
      WelcomeService,
      'sendWelcome',
      body.email,
    );
    return { taskId: result.id, status: result.status };
  }

  @Get(':taskId')
  async welcome(@Param('taskId') taskId: string): Promise<object> {
    const result = await this.tasks.getResult(taskId);
    return {
      status: result.status,
      attempts: result.attempts,
      returnValue:
        result.status === TaskResultStatus.SUCCESSFUL
          ? result.returnValue
          : null,
    };
  }
}
