import { test, expect, hydrated, kubectl, signIn } from './helpers';

function setReady(node: string, status: 'True' | 'False') {
  const patch = JSON.stringify({ status: { conditions: [{ type: 'Ready', status, reason: status === 'True' ? 'KubeletReady' : 'KubeletNotReady' }] } });
  kubectl(['patch', 'node', node, '--subresource=status', '--type=strategic', '-p', patch]);
}

test('the overview counts nodes and GPUs, maps every GPU, and calls out a NotReady node', async ({ page }) => {
  await signIn(page);
  await page.goto('/');
  await hydrated(page);
  const tiles = page.getByTestId('overview-tiles');
  await expect(tiles).toContainText('6/6');
  await expect(tiles).toContainText('5 (5 allocatable)');
  const cells = page.locator('[data-testid="heatmap"] rect.cell');
  await expect(cells).toHaveCount(5);
  // Five GPUs are five large cells, not a strip of small ones.
  await expect(cells.first()).toHaveAttribute('width', '50');
  await expect(page.getByTestId('overview-work')).toBeVisible();
  await cells.first().hover();
  await expect(page.getByTestId('heat-detail')).toContainText('ai-gpu-flask2.novalocal · GPU 0 · Tesla T4 · ');
  await cells.first().click();
  await expect(page).toHaveURL(/\/nodes\/ai-gpu-flask2\.novalocal$/);
  await page.goBack();
  await hydrated(page);
  setReady('node-109', 'False');
  try {
    await expect(page.getByTestId('alerts')).toContainText('node-109 is NotReady', { timeout: 20_000 });
    await expect(tiles).toContainText('5/6');
  } finally {
    setReady('node-109', 'True');
  }
  await expect(page.getByTestId('alerts')).not.toContainText('node-109 is NotReady', { timeout: 20_000 });
});
