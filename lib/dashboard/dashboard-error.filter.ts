import {
  Catch,
  Inject,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InvalidTaskError } from '../errors/invalid-task.error.js';
import { TaskResultDoesNotExistError } from '../errors/task-result-does-not-exist.error.js';
import { TasksError } from '../errors/tasks.error.js';
import {
  DASHBOARD_SETTINGS,
  type DashboardSettings,
} from './dashboard-options.js';
import { dashboardBase, type DashboardRequest } from './dashboard-request.js';
import { DashboardRefusal } from './dashboard-refusal.js';
import { sendPage } from './dashboard-response.js';
import { errorPage } from './pages/error.page.js';

/** The HTTP status and the words of a failure. */
function describeFailure(error: DashboardRefusal | TasksError): {
  status: number;
  message: string;
} {
  if (error instanceof DashboardRefusal)
    return { status: error.getStatus(), message: error.message };
  if (error instanceof TaskResultDoesNotExistError)
    return { status: 404, message: error.message };
  if (error instanceof InvalidTaskError)
    return { status: 409, message: error.message };
  return { status: 400, message: error.message };
}

/**
 * Answers what the dashboard refuses, and the library's errors, with an
 * HTML page saying what went wrong (escaped). Any other exception (one the
 * application's guard throws, a database failure) is left to the
 * application's exception filters.
 */
@Catch(DashboardRefusal, TasksError)
export class DashboardErrorFilter implements ExceptionFilter {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(DASHBOARD_SETTINGS) private readonly settings: DashboardSettings,
  ) {}

  catch(error: DashboardRefusal | TasksError, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<DashboardRequest>();
    const { status, message } = describeFailure(error);
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
