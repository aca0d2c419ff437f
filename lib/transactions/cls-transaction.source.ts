import type { EntityManager } from 'typeorm';
import { importOptionalPeer } from '../optional-peer.js';
import type { AmbientTransactionSource } from './ambient-transaction-source.js';

/** The optional peer read here; never imported statically (DESIGN rule 7). */
const CLS_TRANSACTIONAL_PACKAGE = '@nestjs-cls/transactional';

/**
 * The part of `TransactionHost` (`@nestjs-cls/transactional` 3.x) used here.
 * With `TransactionalAdapterTypeOrm`, `tx` is the transaction's EntityManager
 * while a transaction is active, and the DataSource's plain manager otherwise.
 */
interface TransactionHostLike {
  isTransactionActive(): boolean;
  readonly tx: unknown;
}

interface ClsTransactionalModule {
  TransactionHost?: abstract new (...args: never[]) => unknown;
}

/**
 * The `@nestjs-cls/transactional` transaction active in the current async
 * context, for apps that register
 * `ClsModule.forRoot({ plugins: [new ClsPluginTransactional({ adapter: new TransactionalAdapterTypeOrm({ dataSourceToken }) })] })`.
 *
 * Resolves to null, without loading the package, when no module registers a
 * `TransactionHost` (`registersHost` is false): loading it loads
 * `nestjs-cls`, which enables async hooks for every promise of the process.
 * Resolves to null when the package cannot be loaded (not installed, or not
 * loadable here: Jest on Node < 24.9 cannot `require()` the ESM NestJS 12
 * packages from this CommonJS package) or when the app registered no
 * `TransactionHost`. An app that registered the plugin has already loaded the
 * package, so a failed import means the app does not use it.
 *
 * Only the default `TransactionHost` (plugin registered without
 * `connectionName`) is looked at. Transactions of named connections
 * (`getTransactionHostToken(name)`, `@InjectTransactionHost(name)`) are not
 * joined ambiently; pass their manager with `using({ transaction })` instead.
 * The host is taken from the Nest container, not from the static
 * `TransactionHost.getInstance()`: that one is process-wide and keeps the host
 * of the last app created, which may be another (closed) app in tests.
 */
export async function createClsTransactionSource(
  resolveProvider: (token: unknown) => unknown,
  registersHost: boolean,
): Promise<AmbientTransactionSource | null> {
  if (!registersHost) return null;
  let loaded: ClsTransactionalModule & { default?: ClsTransactionalModule };
  try {
    loaded = await importOptionalPeer(CLS_TRANSACTIONAL_PACKAGE);
  } catch {
    return null;
  }
  // A CommonJS package: the class is a named export, or on `default`.
  const token = loaded.TransactionHost ?? loaded.default?.TransactionHost;
  if (typeof token !== 'function') return null;

  let host: unknown;
  try {
    host = resolveProvider(token);
  } catch {
    return null;
  }
  if (!isTransactionHost(host)) return null;

  return {
    name: CLS_TRANSACTIONAL_PACKAGE,
    currentManager(): EntityManager | null {
      // `tx` alone cannot tell: outside a transaction it is the fallback
      // (non-transactional) DataSource manager.
      if (!host.isTransactionActive()) return null;
      const tx = host.tx as Partial<EntityManager> | null | undefined;
      // A transaction's EntityManager always has its QueryRunner; another
      // adapter's client (Prisma, Knex, ...) has none and is not joined. The
      // host keeps `tx` until after COMMIT/ROLLBACK has finished (code run
      // from a commit hook still sees it): an ended transaction is not joined.
      return tx?.queryRunner?.isTransactionActive
        ? (tx as EntityManager)
        : null;
    },
  };
}

function isTransactionHost(value: unknown): value is TransactionHostLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as TransactionHostLike).isTransactionActive === 'function'
  );
}
