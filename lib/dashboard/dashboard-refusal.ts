import { HttpException } from '@nestjs/common';

/**
 * A request the dashboard itself refuses (bad input, no access, read-only,
 * CSRF, unknown action or backend): the only HTTP exceptions its error
 * filter answers; any other one reaches the application's own filters.
 */
export class DashboardRefusal extends HttpException {
  constructor(status: 400 | 403 | 404, message: string) {
    super(message, status);
  }
}
