/**
 * The keys that a comma-separated `--option` list picks, in the order of
 * `keys`: a part equal to a key picks that key alone; any other part picks
 * every key (or description) that contains it. An empty list picks all.
 */
export function selectKeys(
  option: string,
  list: string | undefined,
  keys: readonly string[],
  describe: (key: string) => string = (key) => key,
): string[] {
  const parts = (list ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  if (parts.length === 0) return [...keys];
  const picked = keys.filter((key) =>
    parts.some((part) =>
      keys.includes(part)
        ? part === key
        : key.includes(part) || describe(key).includes(part),
    ),
  );
  if (picked.length === 0)
    throw new Error(`--${option} ${list} matches none of: ${keys.join(', ')}`);
  return picked;
}
