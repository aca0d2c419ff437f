import { ConsoleLogger, type LogLevel } from '@nestjs/common';

/**
 * Nest's console logger writing every level to standard error, for a
 * command whose standard output is data (`tasks:status --json`).
 */
export class StderrLogger extends ConsoleLogger {
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _writeStreamType?: 'stdout' | 'stderr',
    ...rest: unknown[]
  ): void {
    (
      super.printMessages as (
        messages: unknown[],
        context?: string,
        logLevel?: LogLevel,
        writeStreamType?: 'stdout' | 'stderr',
        ...rest: unknown[]
      ) => void
    ).call(this, messages, context, logLevel, 'stderr', ...rest);
  }
}
