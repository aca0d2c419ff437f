import { drainPhase } from './drain.js';
import { enqueueBulkPhase, enqueueOnePhase } from './enqueue.js';
import { memoryPhase } from './memory.js';
import type { Phase } from './phase.js';
import { pickupPhase } from './pickup.js';
import { scalePhase } from './scale.js';

/** Every phase, in the order they run; those marked `scale` only when asked for. */
export const PHASES: readonly Phase[] = [
  enqueueOnePhase,
  enqueueBulkPhase,
  drainPhase(1),
  drainPhase(2),
  pickupPhase,
  memoryPhase,
  scalePhase,
];
