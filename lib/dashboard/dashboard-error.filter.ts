import {
  Catch,
  HttpException,
  Inject,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InvalidTaskError } from '../errors/invalid-task.error.js';
import { TaskResultDoesNotExistError } from '../errors/task-result-does-not-exist.error.js';
import { TasksError } from '../errors/tasks.error.js';
import { LOGGER_CONTEXT } from '../tasks.constants.js';
import {
  DASHBOARD_SETTINGS,
  type DashboardSettings,
} from './dashboard-options.js';
import { dashboardBase, type DashboardRequest } from './dashboard-request.js';
import { sendPage } from './dashboard-response.js';
import { errorPage } from './pages/error.page.js';

/** The HTTP status and the words of a failure. */
function describeFailure(error: unknown): { status: number; message: string } {
  if (error instanceof HttpException) {
    const body = error.getResponse();
    const message =
      typeof body === 'object' && body && 'message' in body
        ? String((body as { message: unknown }).message)
        : error.message;
    return { status: error.getStatus(), message };
  }
  if (error instanceof TaskResultDoesNotExistError)
    return { status: 404, message: error.message };
  if (error instanceof InvalidTaskError)
    return { status: 409, message: error.message };
  if (error instanceof TasksError)
    return { status: 400, message: error.message };
  return {
    status: 500,
    message:
      'The dashboard failed to answer; the application log has the details.',
  };
}

/** Answers every failure of a dashboard route with an HTML page saying what went wrong (escaped). */
@Catch()
export class DashboardErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(LOGGER_CONTEXT);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(DASHBOARD_SETTINGS) private readonly settings: DashboardSettings,
  ) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<DashboardRequest>();
    const { status, message } = describeFailure(error);
    if (status >= 500) this.logger.error(error);
    const page = errorPage(
      {
        base: dashboardBase(request, this.settings.path),
        readOnly: true,
        csrf: '',
      },
      status,
      message,
    );
    sendPage(
      this.adapterHost.httpAdapter,
      http.getResponse(),
      page.text,
      status,
    );
  }
}
