import type { TaskContext } from './task-context.js';

type AnyMethod = (...args: any[]) => any;

/** A class whose instances carry task methods (abstract classes included). */
export type TaskClass<C> = abstract new (...args: any[]) => C;

/** The names of `C`'s methods. */
export type TaskMethodName<C> = {
  [K in keyof C]-?: C[K] extends AnyMethod ? K : never;
}[keyof C] &
  string;

type WithoutContext<P extends unknown[]> = P extends [
  infer First,
  ...infer Rest,
]
  ? 0 extends 1 & First // `any` is not a TaskContext parameter
    ? P
    : [First] extends [TaskContext]
      ? Rest
      : P
  : P;

/** The arguments an enqueue of `C[K]` takes: its parameters without a leading `TaskContext`. */
export type TaskArgs<C, K extends keyof C> = C[K] extends (
  ...args: infer P
) => any
  ? WithoutContext<P>
  : never;

/** What a run of `C[K]` resolves to. */
export type TaskReturn<C, K extends keyof C> = C[K] extends (
  ...args: any[]
) => infer R
  ? Awaited<R>
  : never;
