import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { hydrated, signIn } from './helpers';

const KUBECONFIG = join(__dirname, '..', '..', '.state', 'e2e', 'kubeconfig');

function setReady(node: string, status: 'True' | 'False') {
  const patch = JSON.stringify({ status: { conditions: [{ type: 'Ready', status, reason: status === 'True' ? 'KubeletReady' : 'KubeletNotReady' }] } });
  execFileSync(process.env.KUBECTL ?? 'kubectl',
    ['--kubeconfig', KUBECONFIG, 'patch', 'node', node, '--subresource=status', '--type=strategic', '-p', patch]);
}

test('the overview counts nodes and GPUs, maps every GPU, and calls out a NotReady node', async ({ page }) => {
  await signIn(page);
  await page.goto('/');
  await hydrated(page);
  const tiles = page.getByTestId('overview-tiles');
  await expect(tiles).toContainText('6/6');
  await expect(tiles).toContainText('5 (5 allocatable)');
  await expect(page.locator('[data-testid="heatmap"] .cell')).toHaveCount(5);
  await expect(page.locator('[data-testid="heatmap"] .cell').first()).toHaveAttribute('title', /GPU 0/);
  setReady('node-109', 'False');
  try {
    await expect(page.getByTestId('alerts')).toContainText('node-109 is NotReady', { timeout: 20_000 });
    await expect(tiles).toContainText('5/6');
  } finally {
    setReady('node-109', 'True');
  }
  await expect(page.getByTestId('alerts')).not.toContainText('node-109', { timeout: 20_000 });
});
