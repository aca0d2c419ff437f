import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie that carries a browser's CSRF token. */
export const CSRF_COOKIE = 'nestjs_tasks_csrf';
/** The form field that carries it back. */
export const CSRF_FIELD = '_csrf';

/**
 * CSRF tokens for the dashboard's forms: a double-submit cookie whose value
 * is signed with a secret of this process (an HMAC), so that a cookie
 * planted by another site or subdomain does not count. A token is a random
 * nonce and its signature; a form must send back the token its browser's
 * cookie holds. Tokens end with the process (a restart asks for a reload).
 */
export class CsrfTokens {
  private readonly secret = randomBytes(32);

  /** A new token. */
  issue(): string {
    const nonce = randomBytes(18).toString('base64url');
    return `${nonce}.${this.sign(nonce)}`;
  }

  /** Whether `token` was issued by this process. */
  isGenuine(token: string | undefined): token is string {
    if (!token) return false;
    const [nonce, signature, extra] = token.split('.');
    if (!nonce || !signature || extra !== undefined) return false;
    return same(signature, this.sign(nonce));
  }

  /** Whether a form's token matches the cookie's and is genuine. */
  accepts(cookie: string | undefined, submitted: unknown): boolean {
    return (
      typeof submitted === 'string' &&
      this.isGenuine(cookie) &&
      same(submitted, cookie)
    );
  }

  private sign(nonce: string): string {
    return createHmac('sha256', this.secret).update(nonce).digest('base64url');
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
