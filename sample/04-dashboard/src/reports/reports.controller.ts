import { Controller, Param, ParseIntPipe, Post } from '@nestjs/common';
import { TaskQueue } from 'nestjs-tasks';
import { ReportsService } from './reports.service.js';

@Controller('reports')
export class ReportsController {
  constructor(private readonly tasks: TaskQueue) {}

  /** Enqueues a report of `pages` pages; its progress shows on the dashboard. */
  @Post(':pages')
  async create(@Param('pages', ParseIntPipe) pages: number) {
    const result = await this.tasks.enqueue(ReportsService, 'build', pages);
    return { taskId: result.id, dashboard: `/tasks/results/${result.id}` };
  }
}
