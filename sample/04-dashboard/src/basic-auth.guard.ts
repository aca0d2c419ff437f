import {
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { timingSafeEqual } from 'node:crypto';

/**
 * Lets in the operator who gives the password of DASHBOARD_PASSWORD (user
 * `admin`) with HTTP Basic authentication; asks the browser for it
 * otherwise. An app with its own login uses its own guard instead.
 */
@Injectable()
export class BasicAuthGuard implements CanActivate {
  private readonly expected = Buffer.from(
    `Basic ${Buffer.from(`admin:${process.env.DASHBOARD_PASSWORD ?? 'change-me'}`).toString('base64')}`,
  );

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const given = Buffer.from(
      String(
        http.getRequest<{ headers: Record<string, unknown> }>().headers
          .authorization ?? '',
      ),
    );
    if (
      given.length === this.expected.length &&
      timingSafeEqual(given, this.expected)
    )
      return true;
    this.adapterHost.httpAdapter.setHeader(
      http.getResponse(),
      'WWW-Authenticate',
      'Basic realm="tasks dashboard", charset="UTF-8"',
    );
    throw new UnauthorizedException('Log in as admin to see the tasks.');
  }
}
