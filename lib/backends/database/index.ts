export { DatabaseBackend } from './database.backend.js';
export type { DatabaseBackendOptions } from './database-backend.options.js';
export { TaskRecord } from './task-record.entity.js';
export { TaskWorkerRecord } from './task-worker-record.entity.js';
export { TaskScheduleRecord } from './task-schedule-record.entity.js';
export { TaskOutboxRecord } from './task-outbox-record.entity.js';
export { taskMigrations, createTaskMigrations } from './migrations/index.js';
