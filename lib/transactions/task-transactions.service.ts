import { TaskMessages } from '../tasks.messages.js';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef, ModulesContainer } from '@nestjs/core';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource, EntityManager } from 'typeorm';
import {
  findProvider,
  registersProviderClass,
} from '../dispatch/find-provider.js';
import type { TaskDefinition } from '../task/task-definition.js';
import {
  LOGGER_CONTEXT,
  TASKS_TRANSACTIONS_WITHOUT_DATABASE,
} from '../tasks.constants.js';
import {
  findDataSource,
  resolveDataSource,
} from '../typeorm/resolve-data-source.js';
import type { AmbientTransactionSource } from './ambient-transaction-source.js';
import { createClsTransactionSource } from './cls-transaction.source.js';
import { InMemoryTransaction } from './in-memory-transaction.js';
import { transactionScopeOf } from './query-runner-scope.js';
import type { RequestScope } from './request-scope.js';
import type { TransactionScope } from './transaction-scope.js';
import { createTypeormTransactionalSource } from './typeorm-transactional.source.js';

/** What the current async context is inside of. */
interface Ambient {
  /** The manager of a `TaskQueue.transaction()`. */
  manager?: EntityManager;
  /** The HTTP request being handled, with `requestLifecycle: 'after-response'`. */
  request?: RequestScope;
}

/** Options of `TaskQueue.transaction()`. */
export interface TaskTransactionOptions {
  /** The DataSource, or its `@nestjs/typeorm` name. Default `'default'`. */
  dataSource?: DataSource | string;
}

/** Finds the transactions and requests an enqueue belongs to, and runs `TaskQueue.transaction()`. */
@Injectable()
export class TaskTransactions implements OnModuleInit {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly ambient = new AsyncLocalStorage<Ambient>();
  private sources: AmbientTransactionSource[] = [];

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly modules: ModulesContainer,
    @Optional()
    @Inject(TASKS_TRANSACTIONS_WITHOUT_DATABASE)
    private readonly withoutDatabase = false,
  ) {}

  async onModuleInit(): Promise<void> {
    const found = await Promise.all([
      createClsTransactionSource(
        (token) => this.provider(token),
        registersProviderClass(this.modules, 'TransactionHost'),
      ),
      createTypeormTransactionalSource(),
    ]);
    this.sources = found.filter(
      (source): source is AmbientTransactionSource => source !== null,
    );
    for (const source of this.sources)
      this.logger.log(TaskMessages.joiningTransactions(source.name));
  }

  /**
   * The scopes an enqueue of `task` made here must wait for, innermost
   * first: its transaction (explicit, then ambient), then the HTTP request.
   */
  scopesFor(task: TaskDefinition<any, any>): TransactionScope[] {
    const ambient = this.ambient.getStore();
    const manager =
      task.transaction ?? ambient?.manager ?? this.ambientManager();
    const scopes: TransactionScope[] = [];
    const transaction = manager ? transactionScopeOf(manager) : null;
    if (transaction) scopes.push(transaction);
    if (ambient?.request?.isActive()) scopes.push(ambient.request);
    return scopes;
  }

  /**
   * Runs `work` in a transaction that enqueues made inside it (at any depth
   * of calls) join. Under TasksTestingModule, when no DataSource of that name
   * is registered, the transaction is an in-memory one.
   */
  async run<T>(
    work: (manager: EntityManager) => Promise<T>,
    options: TaskTransactionOptions = {},
  ): Promise<T> {
    const configured = options.dataSource ?? 'default';
    const ambient = this.ambient.getStore() ?? {};
    const outer = ambient.manager;
    const inTransaction = (manager: EntityManager) =>
      this.ambient.run({ ...ambient, manager }, () => work(manager));
    if (
      this.withoutDatabase &&
      typeof configured === 'string' &&
      !(await findDataSource(configured, (token) => this.provider(token)))
    ) {
      const enclosing = outer && InMemoryTransaction.of(outer);
      return (enclosing ?? new InMemoryTransaction()).run(inTransaction);
    }
    const dataSource = await resolveDataSource(
      configured,
      (token) => this.provider(token),
      'TaskQueue.transaction',
    );
    const nested =
      outer?.connection === dataSource &&
      outer.queryRunner?.isTransactionActive;
    return nested
      ? outer.transaction(inTransaction)
      : dataSource.transaction(inTransaction);
  }

  /** Runs `work` so that enqueues made inside it (at any depth of calls) join the transaction of `manager`. */
  runIn<T>(manager: EntityManager, work: () => Promise<T>): Promise<T> {
    return this.ambient.run(
      { ...(this.ambient.getStore() ?? {}), manager },
      work,
    );
  }

  /** Runs `handle` with enqueues held in `request`. */
  runInRequest<T>(request: RequestScope, handle: () => T): T {
    return this.ambient.run(
      { ...(this.ambient.getStore() ?? {}), request },
      handle,
    );
  }

  private ambientManager(): EntityManager | null {
    for (const source of this.sources) {
      const manager = source.currentManager();
      if (manager) return manager;
    }
    return null;
  }

  private provider(token: unknown): unknown {
    return findProvider(this.moduleRef, token);
  }
}
