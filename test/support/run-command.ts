import { jest } from '@jest/globals';
import type { Type } from '@nestjs/common';
import { createTasksProgram, runProgram } from '../../lib/cli/run-tasks-cli.js';

/**
 * Runs one `nest-tasks` command in this process; returns what it wrote
 * (stdout and stderr; and stdout alone) and its exit code. Standard output
 * counts as no terminal unless `tty` says otherwise.
 */
export async function runCommand(
  appModule: Type<unknown>,
  args: string[],
  { tty = false }: { tty?: boolean } = {},
): Promise<{ output: string; stdout: string; exitCode: number }> {
  const written: string[] = [];
  const toStdout: string[] = [];
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  const stdout = jest
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk: unknown) => {
      toStdout.push(String(chunk));
      return capture(chunk);
    });
  const stderr = jest
    .spyOn(process.stderr, 'write')
    .mockImplementation(capture);
  const wasTTY = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
  Object.defineProperty(process.stdout, 'isTTY', {
    value: tty,
    configurable: true,
  });
  const previousExitCode = process.exitCode;
  process.exitCode = undefined;
  try {
    await runProgram(
      createTasksProgram(async () => appModule),
      ['node', 'nest-tasks', ...args],
    );
    return {
      output: written.join(''),
      stdout: toStdout.join(''),
      exitCode: Number(process.exitCode ?? 0),
    };
  } finally {
    process.exitCode = previousExitCode;
    if (wasTTY) Object.defineProperty(process.stdout, 'isTTY', wasTTY);
    else delete (process.stdout as { isTTY?: boolean }).isTTY;
    stdout.mockRestore();
    stderr.mockRestore();
  }
}
