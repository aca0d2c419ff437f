export {
  BullMQBackend,
  type BullMQBackendOptions,
  type BullMQConnection,
} from '../backends/bullmq/index.js';
