import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { TasksHealthIndicator } from 'nestjs-tasks/terminus';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly tasks: TasksHealthIndicator,
  ) {}

  /** Liveness: the web process reaches the tasks table. */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.tasks.isHealthy('tasks')]);
  }

  /** Alerting: a worker heartbeats and no due task waited over a minute. */
  @Get('workers')
  @HealthCheck()
  workers() {
    return this.health.check([
      () =>
        this.tasks.isHealthy('tasks', { minWorkers: 1, maxReadyAgeMs: 60_000 }),
    ]);
  }
}
