export {
  TasksHealthIndicator,
  type TasksHealthOptions,
} from './tasks-health.indicator.js';
