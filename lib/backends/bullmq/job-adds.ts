import type { JobJson, JobsOptions, Queue } from 'bullmq';
import type { BullMQModule } from './bullmq-peer.js';
import type { RedisClient } from './redis-scripts.js';

/** A job to add, as `Queue.add` takes it; its id given. */
export interface JobToAdd {
  name: string;
  data: unknown;
  opts: JobsOptions & { jobId: string };
}

/** BullMQ's add of one job as it would send it: the script it runs (its name without version) and that script's keys and arguments. */
export interface AddCommand {
  script: string;
  args: (string | number | Buffer)[];
}

/** BullMQ's `Job`, whose check of its options is protected: only its own adds call it. */
interface Validated {
  validateOptions(json: JobJson): void;
}

/**
 * BullMQ's Redis backend of `queue`, through which jobs are added here as
 * BullMQ's `Queue.add` and `Queue.addBulk` add them; null where this
 * BullMQ adds jobs otherwise, or traces its adds (telemetry travels with
 * each job): the backend then adds through `Queue.add` and `Queue.addBulk`.
 */
function redisBackendOf(
  bullmq: BullMQModule,
  queue: Queue,
): InstanceType<BullMQModule['RedisQueueBackend']> | null {
  const backend = queue.backend;
  return backend instanceof bullmq.RedisQueueBackend &&
    queue.opts.telemetry === undefined
    ? backend
    : null;
}

/** `job` as BullMQ stores it: its `Job` (the queue's default job options under the job's own), checked as BullMQ checks each job it adds. */
function jobJson(bullmq: BullMQModule, queue: Queue, job: JobToAdd): JobJson {
  const built = new bullmq.Job(
    queue,
    job.name,
    job.data,
    { ...queue.defaultJobOptions, ...job.opts },
    job.opts.jobId,
  );
  const json = built.asJSON();
  // Its size limit, its options.
  (built as unknown as Validated).validateOptions(json);
  return json;
}

/**
 * Adds one job as `Queue.add` would, its command written to `client`
 * before this returns; answers its id, or the id of the job that holds
 * its deduplication id. Null where BullMQ adds otherwise (see
 * redisBackendOf).
 */
export function addJob(
  bullmq: BullMQModule,
  queue: Queue,
  client: RedisClient,
  job: JobToAdd,
): Promise<string> | null {
  const backend = redisBackendOf(bullmq, queue);
  return (
    backend?.addJobToTransaction(
      client as Parameters<typeof backend.addJobToTransaction>[0],
      jobJson(bullmq, queue, job),
      job.opts.jobId,
    ) ?? null
  );
}

/**
 * Each job as BullMQ's `Queue.addBulk` would add it (see jobJson; its
 * choice of script by the options and that script's keys and arguments),
 * caught on its way to Redis instead of sent: the backend sends many of
 * them in one call. Null where BullMQ adds otherwise (see redisBackendOf).
 */
export async function addCommands(
  bullmq: BullMQModule,
  queue: Queue,
  jobs: readonly JobToAdd[],
): Promise<AddCommand[] | null> {
  const backend = redisBackendOf(bullmq, queue);
  if (!backend) return null;
  const commands: AddCommand[] = [];
  const caught = {
    runCommand(name: string, args: (string | number | Buffer)[]) {
      commands.push({ script: name.split(':')[0], args });
      // Read by BullMQ as the add's answer: not one of its error codes.
      return Promise.resolve(0);
    },
  } as unknown as Parameters<typeof backend.addJobToTransaction>[0];
  const built = jobs.map((job) => jobJson(bullmq, queue, job));
  try {
    await Promise.all(
      jobs.map((job, index) =>
        backend.addJobToTransaction(caught, built[index], job.opts.jobId),
      ),
    );
  } catch {
    // This BullMQ's add asked the client for more than the command: it adds otherwise.
    return null;
  }
  return commands.length === jobs.length ? commands : null;
}
