export * from './task-options.interface.js';
export * from './tasks-module-options.interface.js';
