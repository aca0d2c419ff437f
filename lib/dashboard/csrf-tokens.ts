import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie that carries a browser's CSRF token. */
export const CSRF_COOKIE = 'nestjs_tasks_csrf';
/** The form field that carries it back. */
export const CSRF_FIELD = '_csrf';
/** How long a token is accepted. */
export const CSRF_TOKEN_TTL_MS = 12 * 60 * 60_000;
/** A page renews a cookie older than this, so its forms have at least as long left. */
const RENEW_AFTER_MS = CSRF_TOKEN_TTL_MS / 2;

/**
 * CSRF tokens for the dashboard's forms: a double-submit cookie whose value
 * is signed with a secret (an HMAC), so that a cookie planted by another
 * site or subdomain does not count. A token is its issue time, a random
 * nonce and their signature; it is accepted for `CSRF_TOKEN_TTL_MS`, by
 * every process that shares the secret; a form must send back the token its
 * browser's cookie holds.
 */
export class CsrfTokens {
  private readonly secret: Buffer;

  /** `secret`: shared by every replica of the application; random (this process only) when absent. */
  constructor(
    secret?: string,
    private readonly now: () => number = Date.now,
  ) {
    this.secret =
      secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  /** A new token. */
  issue(): string {
    const payload = `${this.now().toString(36)}.${randomBytes(18).toString('base64url')}`;
    return `${payload}.${this.sign(payload)}`;
  }

  /** Whether `token` was signed with this secret and has not expired. */
  isGenuine(token: string | undefined): token is string {
    return this.age(token) !== null;
  }

  /** Whether a page should give the browser a new token instead of `token`. */
  needsRenewal(token: string | undefined): boolean {
    const age = this.age(token);
    return age === null || age > RENEW_AFTER_MS;
  }

  /** Whether a form's token matches the cookie's and is genuine. */
  accepts(cookie: string | undefined, submitted: unknown): boolean {
    return (
      typeof submitted === 'string' &&
      this.isGenuine(cookie) &&
      same(submitted, cookie)
    );
  }

  /** How old a genuine, unexpired token is; null for any other. */
  private age(token: string | undefined): number | null {
    const [issued, nonce, signature, extra] = (token ?? '').split('.');
    if (!issued || !nonce || !signature || extra !== undefined) return null;
    if (!same(signature, this.sign(`${issued}.${nonce}`))) return null;
    const age = this.now() - parseInt(issued, 36);
    return age >= 0 && age <= CSRF_TOKEN_TTL_MS ? age : null;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret)
      .update(payload)
      .digest('base64url');
  }
}

/** Compares in constant time. */
function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The value of cookie `name` in a Cookie header. */
export function readCookie(
  header: string | undefined,
  name: string,
): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) {
      try {
        return decodeURIComponent(part.slice(at + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
