import { TaskMessages } from '../tasks.messages.js';
import { DataSource } from 'typeorm';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { importOptionalPeer } from '../optional-peer.js';

/** The injection token `@nestjs/typeorm` registers a named DataSource under. */
async function dataSourceToken(name: string): Promise<unknown> {
  try {
    const { getDataSourceToken } =
      await importOptionalPeer<typeof import('@nestjs/typeorm')>(
        '@nestjs/typeorm',
      );
    return getDataSourceToken(name);
  } catch {
    return name === 'default' ? DataSource : `${name}DataSource`;
  }
}

/** The DataSource registered under this `@nestjs/typeorm` name, if there is one. */
export async function findDataSource(
  name: string,
  resolveProvider: (token: unknown) => unknown,
): Promise<DataSource | undefined> {
  return resolveProvider(await dataSourceToken(name)) as DataSource | undefined;
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
      ? await findDataSource(configured, resolveProvider)
      : configured;
  if (!dataSource) {
    throw new InvalidTaskBackendError(
      TaskMessages.dataSourceMissing(who, configured as string),
    );
  }
  if (!dataSource.isInitialized) await dataSource.initialize();
  return dataSource;
}
