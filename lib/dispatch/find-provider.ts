import type { ModuleRef } from '@nestjs/core';

/** The provider of `token` in any module of the application, or undefined when there is none. */
export function findProvider<T = unknown>(
  moduleRef: ModuleRef,
  token: unknown,
): T | undefined {
  try {
    return moduleRef.get(token as string, { strict: false }) as T;
  } catch {
    return undefined;
  }
}
