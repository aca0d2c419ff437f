import {
  Inject,
  Injectable,
  Logger,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Observable } from 'rxjs';
import type { TasksModuleOptions } from '../interfaces/tasks-module-options.interface.js';
import { LOGGER_CONTEXT, TASKS_MODULE_OPTIONS } from '../tasks.constants.js';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { TaskMessages } from '../tasks.messages.js';
import { RequestScope } from './request-scope.js';
import { TaskTransactions } from './task-transactions.service.js';

/**
 * With `requestLifecycle: 'after-response'`, holds the enqueues made while an
 * HTTP handler runs (at any depth of calls) and dispatches them once it has
 * succeeded, without delaying the response; drops them if it throws.
 */
@Injectable()
export class RequestLifecycleInterceptor implements NestInterceptor {
  private readonly logger = new Logger(LOGGER_CONTEXT);

  constructor(
    @Inject(TASKS_MODULE_OPTIONS) private readonly options: TasksModuleOptions,
    private readonly transactions: TaskTransactions,
  ) {
    const lifecycle = options.requestLifecycle;
    if (
      lifecycle !== undefined &&
      lifecycle !== 'immediate' &&
      lifecycle !== 'after-response'
    ) {
      throw new InvalidTaskBackendError(
        TaskMessages.unsupportedRequestLifecycle(lifecycle),
      );
    }
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (
      this.options.requestLifecycle !== 'after-response' ||
      context.getType() !== 'http'
    )
      return next.handle();
    const request = new RequestScope();
    const settle = (outcome: Promise<void>) =>
      outcome.catch((error: unknown) =>
        this.logger.error(
          TaskMessages.heldDispatchFailed(),
          (error as Error)?.stack,
        ),
      );
    return new Observable((subscriber) => {
      const subscription = this.transactions.runInRequest(request, () =>
        next.handle().subscribe({
          next: (value) => subscriber.next(value),
          error: (error: unknown) => {
            void settle(request.rollback());
            subscriber.error(error);
          },
          complete: () => {
            // Settled first: completing tears the subscription down.
            void settle(request.commit());
            subscriber.complete();
          },
        }),
      );
      return () => {
        subscription.unsubscribe();
        if (request.isActive()) {
          // Unsubscribed before the handler finished (client gone, stream closed): not a success.
          this.logger.warn(TaskMessages.requestAbandoned());
          void settle(request.rollback());
        }
      };
    });
  }
}
