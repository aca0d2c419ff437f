import { Injectable } from '@nestjs/common';
import { Task, TaskContext } from 'nestjs-tasks';

@Injectable()
export class ReportsService {
  /**
   * Builds a report page by page, reporting its progress (the dashboard's
   * progress bar moves while it runs). A report of 13 pages fails, to have
   * a traceback to look at and a result to retry.
   */
  @Task({ queueName: 'reports', takesContext: true })
  async build(
    ctx: TaskContext,
    pages: number,
  ): Promise<{ pages: number; bytes: number }> {
    for (let page = 1; page <= pages; page++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (page === 13 && ctx.attempt === 1)
        throw new Error(
          'Page 13 is unlucky: retry the report from the dashboard',
        );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await ctx.setProgress(page / pages, { page, of: pages });
    }
    return { pages, bytes: pages * 4096 };
  }
}
