// Shared steps of the browser tests: waiting for hydration and signing in with the demo's token.
import { expect, Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The demo's admin token, written by the embedded sim into its state dir (see playwright.config.ts). */
export function adminToken(): string {
  return readFileSync(join(__dirname, '..', '..', '.state', 'e2e', 'admin.token'), 'utf8').trim();
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
