import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TasksHealthIndicator } from 'nestjs-tasks/terminus';
import { HealthController } from './health.controller.js';

@Module({
  imports: [TerminusModule],
  controllers: [HealthController],
  providers: [TasksHealthIndicator],
})
export class HealthModule {}
