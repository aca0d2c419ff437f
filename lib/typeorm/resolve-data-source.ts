import { DataSource } from 'typeorm';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';

/** The injection token `@nestjs/typeorm` registers a named DataSource under. */
async function dataSourceToken(name: string): Promise<unknown> {
  try {
    const { getDataSourceToken } = await import('@nestjs/typeorm');
    return getDataSourceToken(name);
  } catch {
    return name === 'default' ? DataSource : `${name}DataSource`;
  }
}

/**
 * Finds a DataSource given by instance or by its `@nestjs/typeorm` name,
 * initializing it if needed. `who` names the asker in the error message.
 */
export async function resolveDataSource(
  configured: string | DataSource,
  resolveProvider: (token: unknown) => unknown,
  who: string,
): Promise<DataSource> {
  const dataSource =
    typeof configured === 'string'
      ? (resolveProvider(await dataSourceToken(configured)) as
          DataSource | undefined)
      : configured;
  if (!dataSource) {
    throw new InvalidTaskBackendError(
      `${who}: no TypeORM DataSource named '${configured}' is provided in this application. ` +
        `Register it with TypeOrmModule.forRoot(${configured === 'default' ? '' : `{ name: '${configured}', … }`}) or pass a DataSource instance.`,
    );
  }
  if (!dataSource.isInitialized) await dataSource.initialize();
  return dataSource;
}
