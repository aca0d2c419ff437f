import type { ModuleRef, ModulesContainer } from '@nestjs/core';

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

/**
 * Whether any module of the application registers a provider whose token is
 * a class of this name: tells whether the app uses an optional integration
 * without loading its package (loading some has process-wide costs).
 */
export function registersProviderClass(
  modules: ModulesContainer,
  className: string,
): boolean {
  for (const module of modules.values())
    for (const token of module.providers.keys())
      if (typeof token === 'function' && token.name === className) return true;
  return false;
}
