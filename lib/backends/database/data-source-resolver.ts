import { DataSource } from 'typeorm';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import type { TaskBackendHost } from '../backend-host.js';

/** The injection token `@nestjs/typeorm` registers a named DataSource under. */
async function dataSourceToken(name: string): Promise<unknown> {
  try {
    const { getDataSourceToken } = await import('@nestjs/typeorm');
    return getDataSourceToken(name);
  } catch {
    return name === 'default' ? DataSource : `${name}DataSource`;
  }
}

/** Finds the DataSource a DatabaseBackend was configured with, initializing it if needed. */
export async function resolveDataSource(
  alias: string,
  configured: string | DataSource,
  host: TaskBackendHost,
): Promise<DataSource> {
  const dataSource =
    typeof configured === 'string'
      ? host.resolveProvider<DataSource>(await dataSourceToken(configured))
      : configured;
  if (!dataSource) {
    throw new InvalidTaskBackendError(
      `Backend '${alias}' (DatabaseBackend): no TypeORM DataSource named '${configured}' is provided in this application. ` +
        `Register it with TypeOrmModule.forRoot(${configured === 'default' ? '' : `{ name: '${configured}', … }`}) or pass a DataSource instance as options.dataSource.`,
    );
  }
  if (!dataSource.isInitialized) await dataSource.initialize();
  return dataSource;
}
