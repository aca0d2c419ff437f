import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { importOptionalPeer } from '../../optional-peer.js';
import { TaskMessages } from '../../tasks.messages.js';

/** The `bullmq` package, which BullMQBackend loads on first use (an optional peer). */
export type BullMQModule = typeof import('bullmq');

/** Loads `bullmq`, or fails naming the backend and how to install it. */
export async function loadBullMQ(alias: string): Promise<BullMQModule> {
  try {
    return await importOptionalPeer<BullMQModule>('bullmq');
  } catch (error) {
    throw new InvalidTaskBackendError(
      TaskMessages.bullmqMissing(alias, error),
      { cause: error },
    );
  }
}

/** Where BullMQ keeps the Lua scripts it runs, in the build `bullmq` loads from (its package `main`). */
const BULLMQ_SCRIPTS = 'bullmq/dist/cjs/scripts/index.js';

interface BullMQScript {
  name: string;
  keys: number;
  content: string;
}

/**
 * The Lua source of one of BullMQ's scripts as the installed BullMQ ships
 * it, which this backend runs for many jobs in one call; null when this
 * BullMQ keeps it elsewhere or with another number of keys (the backend
 * then calls BullMQ once per job).
 */
export async function loadBullMQScript(
  name: string,
  keys: number,
): Promise<string | null> {
  try {
    const scripts = await importOptionalPeer<
      Record<string, BullMQScript | undefined> & {
        default?: Record<string, BullMQScript | undefined>;
      }
    >(BULLMQ_SCRIPTS);
    const script = scripts[name] ?? scripts.default?.[name];
    return script?.keys === keys && typeof script.content === 'string'
      ? script.content
      : null;
  } catch {
    return null;
  }
}
