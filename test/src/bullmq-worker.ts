import { runTasksCli } from '../../lib/index.js';
import { BullMQAppModule } from './bullmq-app.module.js';

await runTasksCli(BullMQAppModule);
