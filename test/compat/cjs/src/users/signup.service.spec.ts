import { Test, type TestingModule } from '@nestjs/testing';
import { TasksModule } from 'nestjs-tasks';
import { TaskQueueTester, TasksTestingModule } from 'nestjs-tasks/testing';
import { MailService } from '../mail/mail.service';
import { SignupService } from './signup.service';
import { UsersStore } from './users.store';

describe('SignupService', () => {
  let moduleRef: TestingModule;
  const users = { create: jest.fn() };

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
  });

  afterEach(() => moduleRef.close());

  it('enqueues the welcome mail when the transaction commits', async () => {
    users.create.mockResolvedValue({ id: 7, email: 'ada@example.test' });

    const { taskId } = await moduleRef
      .get(SignupService)
      .signUp('ada@example.test');

    const tester = moduleRef.get(TaskQueueTester);
    const [welcome] = tester.enqueued(MailService, 'sendWelcome');
    expect(welcome.id).toBe(taskId);
    expect(welcome.args).toEqual([7]);
    await tester.runAll();
    expect(welcome.returnValue).toEqual({ sent: true, userId: 7 });
  });

  it('enqueues nothing when the transaction fails', async () => {
    users.create.mockRejectedValue(new Error('duplicate email'));

    await expect(
      moduleRef.get(SignupService).signUp('ada@example.test'),
    ).rejects.toThrow('duplicate email');
    expect(moduleRef.get(TaskQueueTester).enqueued()).toEqual([]);
  });

  it('drops the enqueue when the transaction fails after it', async () => {
    users.create.mockResolvedValue({ id: 8, email: 'not-an-email' });

    await expect(
      moduleRef.get(SignupService).signUp('not-an-email'),
    ).rejects.toThrow('is not an email');
    expect(moduleRef.get(TaskQueueTester).enqueued()).toEqual([]);
  });
});
