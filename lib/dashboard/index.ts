export { TasksDashboardModule } from './tasks-dashboard.module.js';
export type { TasksDashboardOptions } from './dashboard-options.js';
