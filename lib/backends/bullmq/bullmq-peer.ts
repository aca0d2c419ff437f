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
