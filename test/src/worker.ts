import { runTasksCli } from '../../lib/index.js';
import { AppModule } from './app.module.js';

await runTasksCli(AppModule);
