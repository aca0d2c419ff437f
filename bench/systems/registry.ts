import type { BenchSystem } from '../system.js';
import { BullmqSystem } from './bullmq.js';
import { GraphileWorkerSystem } from './graphile-worker.js';
import { NestjsTasksSystem } from './nestjs-tasks.js';
import { PgBossSystem } from './pg-boss.js';

/** A database server (or file) a system keeps its tasks in. */
export type Store = 'postgres' | 'mariadb' | 'sqlite' | 'redis';

export interface SystemEntry {
  /** Shown in the tables and matched by `--systems`. */
  readonly key: string;
  readonly store: Store;
  /** nestjs-tasks itself, or a peer it is compared with. */
  readonly peer: boolean;
  create(): BenchSystem;
}

/** Every system, in the order of the tables. */
export const SYSTEMS: readonly SystemEntry[] = [
  {
    key: 'nestjs-tasks:postgres',
    store: 'postgres',
    peer: false,
    create: () => new NestjsTasksSystem('postgres'),
  },
  {
    key: 'nestjs-tasks:mariadb',
    store: 'mariadb',
    peer: false,
    create: () => new NestjsTasksSystem('mariadb'),
  },
  {
    key: 'nestjs-tasks:sqlite',
    store: 'sqlite',
    peer: false,
    create: () => new NestjsTasksSystem('sqlite'),
  },
  {
    key: 'nestjs-tasks:redis',
    store: 'redis',
    peer: false,
    create: () => new NestjsTasksSystem('redis'),
  },
  {
    key: 'graphile-worker',
    store: 'postgres',
    peer: true,
    create: () => new GraphileWorkerSystem(false),
  },
  {
    key: 'graphile-worker:batched',
    store: 'postgres',
    peer: true,
    create: () => new GraphileWorkerSystem(true),
  },
  {
    key: 'pg-boss',
    store: 'postgres',
    peer: true,
    create: () => new PgBossSystem(),
  },
  {
    key: 'bullmq:redis',
    store: 'redis',
    peer: true,
    create: () => new BullmqSystem('redis'),
  },
  {
    key: 'bullmq:postgres',
    store: 'postgres',
    peer: true,
    create: () => new BullmqSystem('postgres'),
  },
];
