// Shared steps of the browser tests: the demo's credentials, kubectl against its cluster, waiting
// for hydration and signing in; and `test`, which fails any test whose pages broke their
// Content-Security-Policy (Chromium reports each refusal on the console).
import { test as base, expect, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export { expect };

export const test = base.extend<{ contentSecurityPolicy: void }>({
  contentSecurityPolicy: [async ({ page }, use) => {
    const refused: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) refused.push(message.text());
    });
    // Each page loaded and the policy it came with, to say which answer lacked its policy.
    const documents: string[] = [];
    page.on('response', (response) => {
      if (response.request().isNavigationRequest()) {
        documents.push(`${response.status()} ${response.url()}: ${response.headers()['content-security-policy']}`);
      }
    });
    await use();
    expect(refused, `nothing the pages use is refused by their Content-Security-Policy; pages:\n${documents.join('\n')}`)
      .toEqual([]);
  }, { auto: true }],
});

/** The demo's state dir, where its embedded sim writes tokens and kubeconfig (see playwright.config.ts). */
const STATE = join(__dirname, '..', '..', '.state', 'e2e');

/** The demo's admin token. */
export function adminToken(): string {
  return readFileSync(join(STATE, 'admin.token'), 'utf8').trim();
}

/** Runs kubectl against the demo's cluster as its admin; its output. */
export function kubectl(args: string[], input?: string): string {
  return execFileSync(process.env.KUBECTL ?? 'kubectl', ['--kubeconfig', join(STATE, 'kubeconfig'), ...args],
    { input, encoding: 'utf8' });
}

export async function hydrated(page: Page) {
  // A click before hydration is lost: wait for the marker the app sets once it has hydrated.
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

/** Signs in through the sign-in page and lands on the overview. */
export async function signIn(page: Page, token: string = adminToken()) {
  await page.goto('/login');
  await hydrated(page);
  await page.locator('#token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('whoami')).toBeVisible();
}
