/** Why a value would not survive `JSON.parse(JSON.stringify(value))` unchanged, and where. */
export interface JsonProblem {
  path: string;
  reason: string;
}

function describeNonJson(value: unknown): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `is ${String(value)}`;
    case 'undefined':
      return 'is undefined';
    case 'bigint':
      return 'is a BigInt';
    case 'function':
      return 'is a function';
    case 'symbol':
      return 'is a symbol';
    default:
      break;
  }
  if (value === null || Array.isArray(value)) return null;
  if (value instanceof Date) return 'is a Date (pass date.toISOString())';
  if (value instanceof Map) return 'is a Map (pass Object.fromEntries(map))';
  if (value instanceof Set) return 'is a Set (pass [...set])';
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const name = (value as object).constructor?.name ?? 'unknown';
    return `is an instance of ${name} (pass a plain object)`;
  }
  return null;
}

/**
 * Finds the first part of `value` that JSON cannot carry unchanged: a Date, Map,
 * Set, BigInt, undefined, NaN/Infinity, function, symbol, class instance, array
 * hole or cycle. Returns null when the value round-trips.
 */
export function findJsonProblem(
  value: unknown,
  path: string,
): JsonProblem | null {
  const ancestors = new Set<object>();
  const visit = (current: unknown, at: string): JsonProblem | null => {
    const reason = describeNonJson(current);
    if (reason) return { path: at, reason };
    if (current === null || typeof current !== 'object') return null;
    if (ancestors.has(current))
      return { path: at, reason: 'is a circular reference' };
    ancestors.add(current);
    try {
      if (Array.isArray(current)) {
        for (let i = 0; i < current.length; i++) {
          if (!(i in current))
            return { path: `${at}[${i}]`, reason: 'is an array hole' };
          const found = visit(current[i], `${at}[${i}]`);
          if (found) return found;
        }
        return null;
      }
      for (const key of Object.keys(current)) {
        const found = visit(
          (current as Record<string, unknown>)[key],
          appendKey(at, key),
        );
        if (found) return found;
      }
      if (Object.getOwnPropertySymbols(current).length > 0) {
        return { path: at, reason: 'has symbol keys' };
      }
      return null;
    } finally {
      ancestors.delete(current);
    }
  };
  return visit(value, path);
}

function appendKey(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key)
    ? `${path}.${key}`
    : `${path}[${JSON.stringify(key)}]`;
}
