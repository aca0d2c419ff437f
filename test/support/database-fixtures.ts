import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Task, TaskContext } from '../../lib/index.js';

/** A custom error class, so that the recorded `errorClass` is recognisable. */
export class ConformanceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceError';
  }
}

/** A promise the test opens and closes: lets a task wait while the test looks at it. */
export class Gate {
  readonly reached: Promise<void>;
  private markReached!: () => void;
  private open!: () => void;
  private readonly opened: Promise<void>;

  constructor() {
    this.reached = new Promise<void>((resolve) => (this.markReached = resolve));
    this.opened = new Promise<void>((resolve) => (this.open = resolve));
  }

  /** Called by the task: signals it got here, then waits for `release()`. */
  async pass(): Promise<void> {
    this.markReached();
    await this.opened;
  }

  release(): void {
    this.open();
  }
}

/** The tasks of the DatabaseBackend conformance suite; records what ran, in order. */
@Injectable()
export class ConformanceTasks {
  /** Labels of executed attempts, in execution order. */
  readonly executed: string[] = [];
  /** Attempts per key of `flaky`. */
  readonly flakyCalls = new Map<string, number>();
  gate = new Gate();

  reset(): void {
    this.executed.length = 0;
    this.flakyCalls.clear();
    this.gate.release();
    this.gate = new Gate();
  }

  @Task()
  add(a: number, b: number): number {
    this.executed.push(`add(${a},${b})`);
    return a + b;
  }

  /** Records its label; the tests vary priority and runAfter through `using()`. */
  @Task()
  record(label: string): string {
    this.executed.push(label);
    return label;
  }

  @Task()
  fail(message: string): never {
    this.executed.push(`fail(${message})`);
    throw new ConformanceError(message);
  }

  /** Returns a value that cannot survive a JSON round trip. */
  @Task()
  returnsDate(): Date {
    this.executed.push('returnsDate');
    return new Date(0);
  }

  /** Fails on its first two attempts, succeeds on the third. */
  @Task({ maxAttempts: 3, retryDelay: 0 })
  flaky(key: string): string {
    const calls = (this.flakyCalls.get(key) ?? 0) + 1;
    this.flakyCalls.set(key, calls);
    this.executed.push(`flaky(${key})#${calls}`);
    if (calls < 3) throw new ConformanceError(`flaky ${key} attempt ${calls}`);
    return `ok after ${calls}`;
  }

  /** Reports progress, then waits on the gate the test controls. */
  @Task({ takesContext: true })
  async withProgress(ctx: TaskContext, label: string): Promise<string> {
    this.executed.push(`withProgress(${label})`);
    await ctx.setProgress(0.5, { step: 'half' });
    await this.gate.pass();
    return `${label} done`;
  }

  /** One attempt only: a rescued attempt is final. */
  @Task()
  once(label: string): string {
    this.executed.push(`once(${label})`);
    return label;
  }

  /** Two attempts a minute apart: a rescued first attempt waits its retry delay. */
  @Task({ maxAttempts: 2, retryDelay: 60_000 })
  twiceLater(label: string): string {
    this.executed.push(`twiceLater(${label})`);
    return label;
  }

  /** Two attempts: a rescued first attempt is retried. */
  @Task({ maxAttempts: 2, retryDelay: 0 })
  twice(label: string): string {
    this.executed.push(`twice(${label})`);
    return label;
  }
}
