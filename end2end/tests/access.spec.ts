// "Access": an admin gives a teammate access in one form, mints another token for the account and
// regenerates its legacy token after a warning that names it; refusals appear next to their field;
// the viewer sees the accounts but every action is disabled, with the reason.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, hydrated, kubectl, signIn } from './helpers';

function viewerToken(): string {
  return readFileSync(join(__dirname, '..', '..', '.state', 'e2e', 'viewer.token'), 'utf8').trim();
}

function whoami(token: string): string {
  return kubectl(['--token', token, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']).trim();
}

test('an admin gives a teammate access, mints a token and regenerates the legacy one', async ({ page }) => {
  const name = `e2e-${Date.now().toString(36)}`;
  await signIn(page);
  await page.goto('/access');
  await hydrated(page);
  await expect(page.locator('h1')).toHaveText('Access');
  await page.getByTestId('grant-name').fill(name);
  await page.getByTestId('grant-role').selectOption('edit');
  await page.getByTestId('grant-submit').click();
  const token = page.getByTestId('issued-token');
  await expect(token).toHaveText(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  expect(whoami((await token.textContent())!)).toBe(`system:serviceaccount:default:${name}`);
  await expect(page.getByTestId('issued-kubectl')).toHaveText(`kubectl create token ${name} -n default --duration=86400s`);

  const row = page.locator(`tr[data-account="default/${name}"]`);
  await expect(row).toBeVisible();
  await page.getByTestId('mint-lifetime').selectOption('600');
  await row.getByTestId('mint-token').click();
  await expect(page.getByTestId('issued-kubectl')).toHaveText(`kubectl create token ${name} -n default --duration=600s`);

  await row.getByTestId('regenerate-token').click();
  await expect(row.getByTestId('confirm-regenerate')).toContainText(`default/${name}`);
  await row.getByTestId('confirm-regenerate-yes').click();
  await expect(page.getByTestId('issued')).toContainText('A legacy token does not expire');
  const legacy = (await page.getByTestId('issued-token').textContent())!;
  expect(whoami(legacy)).toBe(`system:serviceaccount:default:${name}`);
  await expect(page.locator(`tr[data-account="default/${name}"]`)).toContainText(`${name}-token-`);
});

test('a refused name says why next to it, in Chinese too', async ({ page }) => {
  await signIn(page);
  await page.goto('/access');
  await hydrated(page);
  await page.getByTestId('grant-name').fill('Bob');
  await page.getByTestId('grant-submit').click();
  await expect(page.getByTestId('refusal-name')).toContainText('a lowercase RFC 1123 subdomain');
  await page.getByTestId('lang-switch').click();
  await expect(page.getByTestId('refusal-name')).toHaveText('只能使用小写字母、数字、“-”和“.”，且以字母或数字开头和结尾');
  await page.getByTestId('grant-role').selectOption('cluster-admin');
  await expect(page.getByTestId('cluster-admin-warning')).toContainText('cluster-admin');
  await page.getByTestId('lang-switch').click();
});

test('the viewer sees the accounts but may change nothing', async ({ page }) => {
  await signIn(page, viewerToken());
  await page.goto('/access');
  await hydrated(page);
  await expect(page.getByTestId('grant-denied')).toBeVisible();
  await expect(page.getByTestId('grant-submit')).toBeDisabled();
  await expect(page.getByTestId('mint-denied')).toBeVisible();
  const rows = page.locator('[data-testid="accounts-table"] tbody tr');
  await expect(rows.first()).toBeVisible();
  for (const button of await page.getByTestId('mint-token').all()) {
    await expect(button).toBeDisabled();
  }
  for (const button of await page.getByTestId('regenerate-token').all()) {
    await expect(button).toBeDisabled();
  }
});
