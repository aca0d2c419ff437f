import { Injectable } from '@nestjs/common';
import { Task } from '../../lib/index.js';

/** A task scheduled every second, booted by the test application with TASKS_TEST_PERIODIC=1 only. */
@Injectable()
export class PeriodicTasks {
  @Task({ schedule: '* * * * * *' })
  async everySecond(): Promise<string> {
    return 'ticked';
  }
}
