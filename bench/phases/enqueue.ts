import { BULK_CHUNK } from '../system.js';
import { timed, type Phase } from './phase.js';

export const enqueueOnePhase: Phase = {
  key: 'enqueue-one',
  title: 'enqueue (one at a time)',
  metric: 'throughput',
  async run({ system, settings, deadline }) {
    await system.reset();
    return timed(() => system.enqueueOne(settings.n, deadline));
  },
};

export const enqueueBulkPhase: Phase = {
  key: 'enqueue-bulk',
  title: `enqueue (bulk, ${BULK_CHUNK}/call)`,
  metric: 'throughput',
  async run({ system, settings, deadline }) {
    await system.reset();
    return timed(() => system.enqueueBulk(settings.n, BULK_CHUNK, deadline));
  },
};
