export { BullMQBackend } from './bullmq.backend.js';
export type {
  BullMQBackendOptions,
  BullMQConnection,
} from './bullmq-backend.options.js';
