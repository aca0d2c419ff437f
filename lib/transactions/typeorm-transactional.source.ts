import type { EntityManager } from 'typeorm';
import { importOptionalPeer } from '../optional-peer.js';
import type { AmbientTransactionSource } from './ambient-transaction-source.js';

/** The optional peer read here; never imported statically (DESIGN rule 7). */
const TYPEORM_TRANSACTIONAL_PACKAGE = 'typeorm-transactional';
/**
 * Its internal module holding the per-context managers (0.5 layout; the
 * package has no `exports` map, so a deep import resolves).
 */
const TYPEORM_TRANSACTIONAL_COMMON =
  'typeorm-transactional/dist/common/index.js';
/** The name `addTransactionalDataSource(dataSource)` registers a DataSource under. */
const DEFAULT_DATA_SOURCE_NAME = 'default';

/** The part of typeorm-transactional's internal `common` module used here. */
interface TypeormTransactionalCommon {
  /** Throws until `initializeTransactionalContext()` was called. */
  getTransactionalContext(): unknown;
  getEntityManagerByDataSourceName(
    context: unknown,
    name: string,
  ): EntityManager | null;
}

/** The part of its public API used when the internal module is not found. */
interface TypeormTransactionalPublic {
  getDataSourceByName?(name: string): { manager: EntityManager } | undefined;
}

/**
 * The `typeorm-transactional` transaction (`@Transactional()`,
 * `runInTransaction()`, `wrapInTransaction()`) active in the current async
 * context.
 *
 * Resolves to null when the package is not installed or when
 * `initializeTransactionalContext()` has not been called (apps must call it
 * before creating the Nest app, so it has been by the time this runs).
 * DataSources may be added later (`addTransactionalDataSource` in a
 * `dataSourceFactory`); they are looked up at each call.
 *
 * Only the DataSource registered as `'default'` (what
 * `addTransactionalDataSource(dataSource)` uses) is looked at: the package
 * keeps its DataSources in a private map and the current context offers no way
 * to list the transactions in it, so "any active one" cannot be found without
 * knowing the names. Transactions of DataSources added under another name
 * (`addTransactionalDataSource({ name, dataSource })`) are not joined
 * ambiently; pass their manager with `using({ transaction })` instead. Which
 * DataSource the manager belongs to is left to the caller
 * (`manager.dataSource`).
 */
export async function createTypeormTransactionalSource(): Promise<AmbientTransactionSource | null> {
  let api: TypeormTransactionalPublic & {
    default?: TypeormTransactionalPublic;
  };
  try {
    api = await importOptionalPeer(TYPEORM_TRANSACTIONAL_PACKAGE);
  } catch {
    return null;
  }
  const common = await loadCommon();
  if (common) {
    try {
      common.getTransactionalContext();
    } catch {
      return null; // initializeTransactionalContext() was never called
    }
    return source(() =>
      common.getEntityManagerByDataSourceName(
        common.getTransactionalContext(),
        DEFAULT_DATA_SOURCE_NAME,
      ),
    );
  }

  // Another layout: read the manager through the public API. A DataSource
  // added with the default `patch: true` has its `manager` getter patched to
  // return the transaction's manager while one is active here (and to throw
  // when the context was never initialized).
  const getDataSourceByName =
    api.getDataSourceByName ?? api.default?.getDataSourceByName;
  if (typeof getDataSourceByName !== 'function') return null;
  return source(
    () => getDataSourceByName(DEFAULT_DATA_SOURCE_NAME)?.manager ?? null,
  );
}

async function loadCommon(): Promise<TypeormTransactionalCommon | null> {
  try {
    const loaded: Partial<TypeormTransactionalCommon> & {
      default?: Partial<TypeormTransactionalCommon>;
    } = await importOptionalPeer(TYPEORM_TRANSACTIONAL_COMMON);
    const common = loaded.getTransactionalContext ? loaded : loaded.default;
    return typeof common?.getTransactionalContext === 'function' &&
      typeof common.getEntityManagerByDataSourceName === 'function'
      ? (common as TypeormTransactionalCommon)
      : null;
  } catch {
    return null;
  }
}

function source(
  find: () => EntityManager | null | undefined,
): AmbientTransactionSource {
  return {
    name: TYPEORM_TRANSACTIONAL_PACKAGE,
    currentManager(): EntityManager | null {
      let manager: EntityManager | null | undefined;
      try {
        manager = find();
      } catch {
        return null;
      }
      // The context keeps the manager from the transaction callback's start
      // to its end (set back to null before COMMIT); outside it, or under
      // Propagation.NOT_SUPPORTED, there is none, and the public fallback
      // yields the DataSource's plain manager, which has no QueryRunner.
      return manager?.queryRunner?.isTransactionActive ? manager : null;
    },
  };
}
