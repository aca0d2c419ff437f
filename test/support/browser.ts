import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium, which the browser suites drive (`apt-get install -y chromium`). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Whether the browser suites can run; prints a loud notice when not (and CI fails instead). */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  const bar = '!'.repeat(78);
  console.warn(
    [
      '',
      bar,
      `!!! WARNING: ${CHROMIUM_PATH} IS MISSING, THE BROWSER SUITES ARE SKIPPED`,
      '!!! install it with: apt-get install -y chromium',
      '!!! (under CI=true a missing Chromium fails the run)',
      bar,
      '',
    ].join('\n'),
  );
  return false;
}

/** A headless Chromium with a fresh profile of its own; `close()` also removes the profile. */
export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'nestjs-tasks-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}
