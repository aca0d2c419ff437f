import type { HttpServer } from '@nestjs/common';

/**
 * What every dashboard page forbids itself: scripts, styles and requests
 * other than the dashboard's own files, inline scripts and styles, framing,
 * and caching of pages that show task data.
 */
const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Sends an HTML page (or fragment) with the dashboard's headers, on Express or Fastify alike. */
export function sendPage(
  adapter: HttpServer,
  response: unknown,
  body: string,
  status = 200,
): void {
  sendText(
    adapter,
    response,
    body,
    'text/html; charset=utf-8',
    status,
    PAGE_HEADERS,
  );
}

/** Sends text with a content type and extra headers. */
export function sendText(
  adapter: HttpServer,
  response: unknown,
  body: string,
  contentType: string,
  status = 200,
  headers: Record<string, string> = {},
): void {
  adapter.setHeader(response, 'Content-Type', contentType);
  for (const [name, value] of Object.entries(headers))
    adapter.setHeader(response, name, value);
  adapter.reply(response, body, status);
}
