export * from '../task/task-options.js';
export * from './tasks-module-options.interface.js';
