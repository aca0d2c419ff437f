import { BULK_CHUNK } from '../system.js';
import { timeIt, type Phase } from './phase.js';

export const enqueueOnePhase: Phase = {
  key: 'enqueue-one',
  title: 'enqueue (one at a time)',
  metric: 'throughput',
  run: ({ system, settings, deadline }) =>
    timeIt(
      () => system.reset(),
      () => system.enqueueOne(settings.n, deadline),
    ),
};

export const enqueueBulkPhase: Phase = {
  key: 'enqueue-bulk',
  title: `enqueue (bulk, ${BULK_CHUNK}/call)`,
  metric: 'throughput',
  run: ({ system, settings, deadline }) =>
    timeIt(
      () => system.reset(),
      () => system.enqueueBulk(settings.n, BULK_CHUNK, deadline),
    ),
};
