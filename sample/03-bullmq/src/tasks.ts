import { runTasksCli } from 'nestjs-tasks';
import { AppModule } from './app.module.js';

// The worker process: `node dist/tasks.js tasks:work`, `tasks:status`, …
await runTasksCli(AppModule);
