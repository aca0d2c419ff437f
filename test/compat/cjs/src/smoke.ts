// node dist/smoke.js — on the app's PostgreSQL database: enqueue in a
// transaction (and one that rolls back), run `tasks:work --batch` through the
// package's bin, then read the result.
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { deepStrictEqual, rejects, strictEqual } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { TaskQueue, TaskResultStatus } from 'nestjs-tasks';
import { DataSource } from 'typeorm';
import { AppModule } from './app.module';
import { SignupService } from './users/signup.service';

const root = join(__dirname, '..');

async function withApp<T>(
  work: (app: INestApplicationContext) => Promise<T>,
): Promise<T> {
  const app = await NestFactory.createApplicationContext(AppModule, {
    logger: ['error', 'warn'],
  });
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

function run(command: string, args: string[]): void {
  console.log(`$ ${command} ${args.join(' ')}`);
  execFileSync(command, args, { cwd: root, stdio: 'inherit' });
}

async function taskCount(app: INestApplicationContext): Promise<number> {
  const [{ count }] = await app
    .get(DataSource)
    .query('SELECT count(*)::int AS count FROM nestjs_tasks');
  return count;
}

async function smoke(): Promise<void> {
  const { user, taskId } = await withApp(async (app) => {
    const signup = app.get(SignupService);
    const before = await taskCount(app);
    const signedUp = await signup.signUp('ada@example.test');
    await rejects(signup.signUp('not-an-email'), /is not an email/);
    strictEqual(await taskCount(app), before + 1);
    deepStrictEqual(
      await app
        .get(DataSource)
        .query("SELECT email FROM compat_users WHERE email = 'not-an-email'"),
      [],
    );
    return signedUp;
  });

  run(join(root, 'node_modules/.bin/nest-tasks'), ['tasks:work', '--batch']);
  run(process.execPath, [join(root, 'dist/tasks-cli.js'), 'tasks:check']);

  await withApp(async (app) => {
    const result = await app.get(TaskQueue).getResult(taskId);
    strictEqual(result.status, TaskResultStatus.SUCCESSFUL);
    deepStrictEqual(result.returnValue, { sent: true, userId: user.id });
  });
  console.log('smoke: OK');
}

smoke().catch((error) => {
  console.error(error);
  process.exit(1);
});
