// node dist/tasks-cli.js tasks:work — CommonJS has no top-level await.
import { runTasksCli } from 'nestjs-tasks';
import { AppModule } from './app.module';

void runTasksCli(AppModule);
