import { CSRF_COOKIE, readCookie } from './csrf-tokens.js';

/** The parts of an Express or Fastify request the dashboard reads. */
export interface DashboardRequest {
  /** Express: the URL as received, whatever the router has matched. */
  originalUrl?: string;
  /** Fastify: the URL as received. */
  url?: string;
  protocol?: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

/** The URL path of the dashboard's mount point as this request reached it (the global prefix included). */
export function dashboardBase(
  request: DashboardRequest,
  mount: string,
): string {
  const path = new URL(
    request.originalUrl ?? request.url ?? '/',
    'http://localhost',
  ).pathname;
  const at = mount === '' ? -1 : path.indexOf(mount);
  return at < 0 ? mount : path.slice(0, at + mount.length);
}

/** The CSRF token the request's cookie carries, if any. */
export function csrfCookie(request: DashboardRequest): string | undefined {
  const header = request.headers.cookie;
  return readCookie(
    Array.isArray(header) ? header.join('; ') : header,
    CSRF_COOKIE,
  );
}

/** A field of a form posted as application/x-www-form-urlencoded (or JSON). */
export function formField(request: DashboardRequest, name: string): unknown {
  const body = request.body;
  return body && typeof body === 'object'
    ? (body as Record<string, unknown>)[name]
    : undefined;
}
