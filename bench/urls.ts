import { isIP } from 'node:net';

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_MARIADB_URL = 'mysql://root@127.0.0.1:3306/test';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/**
 * The database URL in `envVar`, or the default. A benchmark empties and
 * drops what it creates, so only a server on this machine is accepted.
 */
export function loopbackUrl(envVar: string, fallback: string): string {
  const raw = process.env[envVar] ?? fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${envVar} is not a URL: ${raw}`);
  }
  if (!isLoopback(url.hostname)) {
    throw new Error(
      `${envVar} points at ${url.hostname || '(no host)'}; the benchmark runs only against a loopback server (127.0.0.1, ::1 or localhost)`,
    );
  }
  return raw;
}
