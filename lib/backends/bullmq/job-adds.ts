import type { JobJson, JobsOptions, Queue } from 'bullmq';
import type { BullMQModule } from './bullmq-peer.js';

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
 * Each job as BullMQ's `Queue.addBulk` would add it (the queue's default
 * job options under the job's own, BullMQ's `Job` and its validation, its
 * choice of script by the options and that script's keys and arguments),
 * caught on its way to Redis instead of sent: the backend sends many of
 * them in one call. Null where this BullMQ adds jobs otherwise, or traces
 * its adds (telemetry travels with each job): the jobs are then added
 * through `Queue.addBulk`.
 */
export async function addCommands(
  bullmq: BullMQModule,
  queue: Queue,
  jobs: readonly JobToAdd[],
): Promise<AddCommand[] | null> {
  const backend = queue.backend;
  if (
    !(backend instanceof bullmq.RedisQueueBackend) ||
    queue.opts.telemetry !== undefined
  )
    return null;
  const commands: AddCommand[] = [];
  const caught = {
    runCommand(name: string, args: (string | number | Buffer)[]) {
      commands.push({ script: name.split(':')[0], args });
      // Read by BullMQ as the add's answer: not one of its error codes.
      return Promise.resolve(0);
    },
  } as unknown as Parameters<typeof backend.addJobToTransaction>[0];
  const defaults = queue.defaultJobOptions;
  const adding = jobs.map((job) => {
    const built = new bullmq.Job(
      queue,
      job.name,
      job.data,
      { ...defaults, ...job.opts },
      job.opts.jobId,
    );
    const json = built.asJSON();
    // As `Job.createBulk` checks each job (its size limit, its options).
    (built as unknown as Validated).validateOptions(json);
    return backend.addJobToTransaction(caught, json, job.opts.jobId);
  });
  await Promise.all(adding);
  return commands.length === jobs.length ? commands : null;
}
