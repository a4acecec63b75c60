import { test, expect, hydrated, signIn } from './helpers';

const LAB = ['cluster-master', 'node-110', 'node-109', 'node-106', 'node-105', 'ai-gpu-flask2.novalocal'];

test.beforeEach(async ({ page }) => {
  await signIn(page);
});

test('the demo lists the seed lab\'s six nodes after hydration', async ({ page }) => {
  await page.goto('/nodes');
  await hydrated(page);
  const rows = page.locator('[data-testid="nodes-table"] tbody tr');
  await expect(rows).toHaveCount(6);
  for (const name of LAB) {
    await expect(page.locator(`tr[data-node="${name}"]`)).toBeVisible();
  }
  await expect(page.getByTestId('node-summary')).toHaveText('6/6 nodes Ready · 5 GPUs allocatable');
  await expect(page.locator('tr[data-node="ai-gpu-flask2.novalocal"]')).toContainText('Tesla T4');
  await expect(page.locator('tr[data-node="node-105"]')).toContainText('5.3.0-28-generic');
});

test('the nodes table sorts in the browser', async ({ page }) => {
  await page.goto('/nodes');
  await hydrated(page);
  const firstRow = page.locator('[data-testid="nodes-table"] tbody tr').first();
  await expect(firstRow).toHaveAttribute('data-node', 'ai-gpu-flask2.novalocal');
  await page.locator('th', { hasText: 'Name' }).click();
  await expect(firstRow).toHaveAttribute('data-node', 'node-110');
  await page.locator('th', { hasText: 'GPUs' }).click();
  await expect(firstRow).toHaveAttribute('data-node', 'cluster-master');
});

test('node-110\'s page shows its GTX 1080 Ti with charts, its conditions and labels', async ({ page }) => {
  await page.goto('/nodes');
  await hydrated(page);
  await page.locator('tr[data-node="node-110"] a').click();
  await expect(page).toHaveURL(/\/nodes\/node-110$/);
  const card = page.locator('.gpu-card');
  await expect(card).toHaveCount(1);
  await expect(card).toContainText('NVIDIA GeForce GTX 1080 Ti');
  await expect(card.getByTestId('gpu-chart')).toHaveCount(4);
  // The chart draws the kept history: a line with at least one point.
  await expect.poll(async () => (await card.locator('polyline.series').first().getAttribute('points'))?.length ?? 0).toBeGreaterThan(0);
  await expect(page.locator('body')).toContainText('KubeletReady');
  await expect(page.locator('body')).toContainText('kubernetes.io/hostname=node-110');
});

test('the node page offers the chart ranges its source keeps, and says what the others need', async ({ page }) => {
  // The demo asks its exporters and keeps an hour in memory: a week asked for shows that hour.
  await page.goto('/nodes/node-110?range=week');
  await hydrated(page);
  const ranges = page.getByTestId('history-ranges');
  await expect(ranges.locator('[aria-current="page"]')).toHaveText('1 hour');
  const off = ranges.locator('[aria-disabled="true"]');
  await expect(off).toHaveText(['1 day', '1 week']);
  await expect(off.first()).toHaveAttribute('title', /--prometheus-url/);
  await expect(ranges).toContainText('Longer ranges need Prometheus');
  await expect(page.locator('.gpu-card').getByTestId('gpu-chart')).toHaveCount(4);
});

test('GPU nodes whose kernel or driver differs from the rest are flagged', async ({ page }) => {
  await page.goto('/nodes');
  await hydrated(page);
  const note = page.getByTestId('node-skew');
  await expect(note).toContainText('node-105 (kernel)');
  await expect(note).toContainText('ai-gpu-flask2.novalocal (kernel, driver)');
  await expect(page.locator('tr[data-node="node-105"] td.skew')).toHaveText('5.3.0-28-generic');
  await expect(page.locator('tr[data-node="node-110"] td.skew')).toHaveCount(0);
  await page.getByTestId('node-filter').fill('ubuntu');
  await expect(page.locator('[data-testid="nodes-table"] tbody tr')).toHaveCount(1);
});

test('wide tables scroll inside their own box: a 1440-pixel window needs no page scroll', async ({ page }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  for (const path of ['/nodes', '/nodes/node-110', '/gpus', '/']) {
    await page.goto(path);
    await hydrated(page);
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      topbar: document.querySelector('.topbar')!.getBoundingClientRect().width,
    }));
    expect(widths.page, path).toBeLessThanOrEqual(1440);
    expect(widths.topbar, path).toBe(1440);
  }
});

test('the nodes page and a node\'s page speak Chinese, headings and summary too', async ({ page }) => {
  await page.goto('/nodes');
  await hydrated(page);
  await page.getByTestId('lang-switch').click();
  await expect(page.getByTestId('node-summary')).toHaveText('6/6 个节点就绪 · 可分配 5 块 GPU');
  await expect(page.getByTestId('node-skew')).toContainText('node-105（内核）');
  await page.goto('/nodes/node-110');
  await hydrated(page);
  for (const heading of ['Pod', '状况', '污点', '标签']) {
    await expect(page.locator('h2', { hasText: heading })).toHaveCount(1);
  }
  await page.getByTestId('lang-switch').click();
  await expect(page.locator('h2', { hasText: 'Conditions' })).toHaveCount(1);
});
