#!/usr/bin/env node
import { runNestTasksBin } from './nest-tasks-bin.js';

void runNestTasksBin(process.argv).then(() =>
  // Tasks interrupted by a shutdown timeout may still hold handles: the command is over.
  process.exit(process.exitCode ?? 0),
);
