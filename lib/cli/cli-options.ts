import { TaskMessages } from '../tasks.messages.js';
import { InvalidArgumentError } from 'commander';

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses `7d`, `12h`, `30m`, `45s`, `500ms` or a bare number of milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(value.trim());
  if (!match) {
    throw new InvalidArgumentError(TaskMessages.badDuration(value));
  }
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']);
}

/** Parses a whole number of at least `min`. */
export function integerOption(min: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min) {
      throw new InvalidArgumentError(TaskMessages.badWholeNumber(value, min));
    }
    return parsed;
  };
}

/** Collects a repeatable option into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
