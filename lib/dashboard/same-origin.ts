import { header, type DashboardRequest } from './dashboard-request.js';

/**
 * Whether a browser says the request comes from another site: by
 * `Sec-Fetch-Site` when it sends one (only `same-origin`, or `none` for what
 * the user did themselves, pass), else by `Origin`, whose host must be the
 * request's `Host` (or `X-Forwarded-Host`, behind a proxy that rewrites
 * `Host`). A request with neither header is not a browser's cross-site
 * one (older browsers, scripts): the CSRF token alone decides.
 */
export function isCrossSite(request: DashboardRequest): boolean {
  const site = header(request, 'sec-fetch-site');
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = header(request, 'origin');
  if (origin === undefined) return false;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    // `Origin: null` (a sandboxed frame, a redirect across sites…).
    return true;
  }
  return (
    host !== header(request, 'host') &&
    host !== header(request, 'x-forwarded-host')
  );
}
