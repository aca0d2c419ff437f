import { Test, type TestingModule } from '@nestjs/testing';
import { TasksModule } from 'nestjs-tasks';
import { TaskQueueTester, TasksTestingModule } from 'nestjs-tasks/testing';
import { MailService } from '../mail/mail.service';
import { SignupService } from './signup.service';
import { UsersStore } from './users.store';

describe('SignupService', () => {
  let moduleRef: TestingModule;
  let tester: TaskQueueTester;
  const users = {
    create: jest.fn(async (_manager: unknown, email: string) => ({
      id: 7,
      email,
    })),
  };

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [TasksModule.forRoot(), TasksTestingModule.forRoot()],
      providers: [
        SignupService,
        MailService,
        { provide: UsersStore, useValue: users },
      ],
    }).compile();
    await moduleRef.init();
    tester = moduleRef.get(TaskQueueTester);
  });

  afterEach(() => moduleRef.close());

  it('enqueues the welcome mail once the transaction commits', async () => {
    const { user, taskId } = await moduleRef
      .get(SignupService)
      .signUp('ada@example.test');

    expect(user).toEqual({ id: 7, email: 'ada@example.test' });
    const [welcome] = tester.enqueued(MailService, 'sendWelcome');
    expect(welcome.id).toBe(taskId);
    expect(welcome.args).toEqual([7]);
    await tester.runAll();
    expect(welcome.returnValue).toEqual({ sent: true, userId: 7 });
  });

  it('enqueues nothing when the transaction fails', async () => {
    await expect(
      moduleRef.get(SignupService).signUp('not-an-email'),
    ).rejects.toThrow('is not an email');

    expect(tester.enqueued()).toEqual([]);
  });
});
