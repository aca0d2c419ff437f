import { PATH_METADATA } from '@nestjs/common/constants.js';
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

/** The base each request reached the dashboard at, once its route is known. */
const bases = new WeakMap<object, string>();

/** The URL path of the request, without a trailing slash. */
function requestPath(request: DashboardRequest): string {
  return new URL(
    request.originalUrl ?? request.url ?? '/',
    'http://localhost',
  ).pathname.replace(/\/+$/, '');
}

/**
 * Notes the URL path of the dashboard's mount point as this request reached
 * it (the global prefix included): the request's path without as many
 * segments as the matched route of `handler` has below the mount point.
 */
export function rememberBase(request: DashboardRequest, handler: object): void {
  const route = String(Reflect.getMetadata(PATH_METADATA, handler) ?? '');
  const depth = route.split('/').filter(Boolean).length;
  const segments = requestPath(request).split('/');
  bases.set(request, segments.slice(0, segments.length - depth).join('/'));
}

/**
 * The URL path of the dashboard's mount point as this request reached it;
 * `mount` (the configured path) for a request whose route is not known yet.
 */
export function dashboardBase(
  request: DashboardRequest,
  mount: string,
): string {
  return bases.get(request) ?? mount;
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

/** A request header, the first value when it is repeated. */
export function header(
  request: DashboardRequest,
  name: string,
): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
