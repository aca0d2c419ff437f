import type { DataSourceOptions } from 'typeorm';
import { taskMigrations } from 'nestjs-tasks';
import { User } from './users/user.entity';

/** The app's PostgreSQL database: DATABASE_URL, by default a database of its own on the local server. */
export const DATABASE_URL =
  process.env.DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/nestjs_tasks_compat_cjs';

export const databaseOptions: DataSourceOptions = {
  type: 'postgres',
  url: DATABASE_URL,
  entities: [User],
  synchronize: true,
  migrations: taskMigrations,
  migrationsRun: true,
};
