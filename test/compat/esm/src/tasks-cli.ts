// node dist/tasks-cli.js tasks:work
import { runTasksCli } from 'nestjs-tasks';
import { AppModule } from './app.module.js';

await runTasksCli(AppModule);
