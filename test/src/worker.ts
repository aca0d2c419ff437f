import { runTasksCli } from '../../lib/index.js';
import { AppModule } from './app.module.js';

// TASKS_TEST_TRACE_FILE: trace into this file, as an app with an OpenTelemetry SDK would.
if (process.env.TASKS_TEST_TRACE_FILE) {
  const { traceToFile } = await import('./trace-to-file.js');
  traceToFile(process.env.TASKS_TEST_TRACE_FILE);
}
await runTasksCli(AppModule);
