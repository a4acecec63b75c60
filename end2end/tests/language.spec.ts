import { test, expect, hydrated, signIn } from './helpers';

test('the page switches to Simplified Chinese and remembers it', async ({ page }) => {
  await signIn(page);
  await page.goto('/gpus');
  await hydrated(page);
  await expect(page.locator('h1')).toHaveText('GPUs');
  await page.getByTestId('lang-switch').click();
  await expect(page.locator('nav')).toContainText('节点');
  await expect(page.getByTestId('gpu-summary')).toContainText('块 GPU');
  await page.reload();
  await hydrated(page);
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await expect(page.locator('nav')).toContainText('节点');
  await expect(page.getByTestId('lang-switch')).toHaveText('English');
  await page.getByTestId('lang-switch').click();
  await expect(page.locator('nav')).toContainText('Nodes');
});

test('the sign-in page follows the browser language when nothing was chosen', async ({ browser }) => {
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  await page.goto('/login');
  await hydrated(page);
  await expect(page.locator('h1')).toHaveText('登录');
  await context.close();
});
