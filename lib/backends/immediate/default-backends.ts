import type { TaskBackendClass } from '../backend.js';
import { DEFAULT_BACKEND_ALIAS } from '../../tasks.constants.js';
import { ImmediateBackend } from './immediate.backend.js';

/** The backends of an application that configures none: an ImmediateBackend as `default`. */
export const DEFAULT_BACKENDS: Readonly<
  Record<string, { backend: TaskBackendClass }>
> = Object.freeze({
  [DEFAULT_BACKEND_ALIAS]: { backend: ImmediateBackend },
});
