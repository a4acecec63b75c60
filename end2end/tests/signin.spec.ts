import { test, expect, adminToken, hydrated, signIn } from './helpers';

test('without a session every page leads to the sign-in page', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByTestId('login-form')).toBeVisible();
});

test('a wrong token shows an error and sets no session', async ({ page, context }) => {
  await page.goto('/login');
  await hydrated(page);
  await page.locator('#token').fill('not-a-token-the-cluster-knows');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/error=rejected/);
  await expect(page.getByTestId('login-message')).toContainText('does not accept this token');
  const cookies = await context.cookies();
  expect(cookies.filter((c) => c.name === '__Host-gpuboard_session')).toHaveLength(0);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});

test('signing in shows who you are; the cookie is HttpOnly, Strict and holds no token', async ({ page, context }) => {
  await signIn(page);
  await expect(page.getByTestId('whoami')).toHaveText('kubernetes-admin');
  const session = (await context.cookies()).find((c) => c.name === '__Host-gpuboard_session');
  expect(session).toBeDefined();
  expect(session!.httpOnly).toBe(true);
  expect(session!.sameSite).toBe('Strict');
  expect(session!.secure).toBe(true);
  expect(await page.evaluate(() => document.cookie)).not.toContain('gpuboard_session');
  expect(await page.content()).not.toContain(adminToken());
});

test('sign-out ends the session', async ({ page }) => {
  await signIn(page);
  await page.getByTestId('sign-out').click();
  await expect(page).toHaveURL(/reason=signed-out/);
  await expect(page.getByTestId('login-message')).toContainText('signed out');
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});
