import { runTasksCli } from '../../lib/index.js';
import { OutboxAppModule } from './outbox-app.module.js';

await runTasksCli(OutboxAppModule);
