import { Test, type TestingModule } from '@nestjs/testing';
import { TaskQueue, TaskRecord, TaskResultStatus } from 'nestjs-tasks';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module';
import { SignupService } from '../src/users/signup.service';

describe('AppModule on PostgreSQL', () => {
  let moduleRef: TestingModule;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [AppModule],
    }).compile();
    await moduleRef.init();
  });

  afterAll(() => moduleRef.close());

  it('registers the task entities with autoLoadEntities', () => {
    expect(moduleRef.get(DataSource).hasMetadata(TaskRecord)).toBe(true);
  });

  it('commits the user and the task row together', async () => {
    const { user, taskId } = await moduleRef
      .get(SignupService)
      .signUp('e2e@example.test');

    const result = await moduleRef.get(TaskQueue).getResult(taskId);
    expect(result.status).toBe(TaskResultStatus.READY);
    expect(result.args).toEqual([user.id]);
  });
});
