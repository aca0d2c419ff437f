import { PhaseTimeoutError, withinLimit } from './limits.js';
import { runsOf, type Options } from './options.js';
import type { Metric, Sample } from './phases/phase.js';
import { describeSample } from './report/summary.js';
import type { BenchSystem } from './system.js';
import type { SystemEntry } from './systems/registry.js';

/** Everything measured for one phase of one system. */
export interface Figure {
  phase: string;
  title: string;
  metric: Metric;
  system: string;
  samples: Sample[];
  /** The time limit, when a run overran it: a throughput figure is then a lower bound. */
  timedOutMs: number | null;
  errors: string[];
}

export interface OpenSystem {
  entry: SystemEntry;
  system: BenchSystem;
}

/**
 * Runs every selected phase, interleaved: within a phase each system runs
 * once per round, so drift of the machine hits all alike. A system that
 * overran a phase skips that phase's remaining rounds.
 */
export async function runPhases(
  options: Options,
  systems: readonly OpenSystem[],
): Promise<{ figures: Figure[]; failed: boolean }> {
  const figures: Figure[] = [];
  let failed = false;
  for (const phase of options.phases) {
    const ofPhase = systems.map(({ entry, system }) => {
      const figure: Figure = {
        phase: phase.key,
        title: phase.title,
        metric: phase.metric,
        system: entry.key,
        samples: [],
        timedOutMs: null,
        errors: [],
      };
      figures.push(figure);
      return { figure, system };
    });
    const runs = runsOf(phase, options);
    for (let round = 1; round <= runs; round++) {
      for (const { figure, system } of ofPhase) {
        if (figure.timedOutMs !== null) continue; // it would overrun again
        const where = `  ${phase.key} | ${figure.system} | run ${round}`;
        try {
          const sample = await withinLimit(
            options.timeoutMs,
            phase.title,
            figure.system,
            (deadline) =>
              phase.run({
                system,
                label: figure.system,
                settings: options.settings,
                deadline,
              }),
          );
          figure.samples.push(sample);
          console.log(`${where}: ${describeSample(sample)}`);
        } catch (error) {
          const message =
            error instanceof Error ? error.message : String(error);
          figure.errors.push(message);
          const overran = error instanceof PhaseTimeoutError;
          // An overrun is a lower bound, not an error, unless a smoke run hangs.
          if (overran) figure.timedOutMs = options.timeoutMs;
          if (!overran || options.smoke) failed = true;
          console.error(
            `${where}: ${overran ? 'TIMED OUT' : 'FAILED'}: ${message}`,
          );
        }
      }
    }
  }
  return { figures, failed };
}
