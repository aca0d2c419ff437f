import { TaskMessages } from '../tasks.messages.js';
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
      TaskMessages.dataSourceMissing(who, configured as string),
    );
  }
  if (!dataSource.isInitialized) await dataSource.initialize();
  return dataSource;
}
