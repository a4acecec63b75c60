// The GPU-node doctor on a node's page and the overview: node-109 lacks the device plugin, and the
// page says so with what to do, in both languages.
import { test, expect, hydrated, signIn } from './helpers';

test('node-109\'s page shows the doctor failing its device plugin, with what to do', async ({ page }) => {
  await signIn(page);
  await page.goto('/nodes/node-109');
  await hydrated(page);
  const doctor = page.getByTestId('doctor');
  const plugin = doctor.locator('tr[data-check="device-plugin"]');
  await expect(plugin).toHaveAttribute('data-status', 'fail');
  await expect(plugin).toContainText('no nvidia-device-plugin pod on this node');
  await expect(plugin).toContainText('Deploy the NVIDIA device plugin DaemonSet');
  await expect(doctor.locator('tr[data-check="ready"]')).toHaveAttribute('data-status', 'pass');

  await page.getByTestId('lang-switch').click();
  await expect(doctor.locator('h2')).toHaveText('诊断');
  await expect(plugin).toContainText('节点上运行着 NVIDIA device plugin');
  await expect(plugin).toContainText('失败');
  await page.getByTestId('lang-switch').click();

  await page.goto('/');
  await hydrated(page);
  await expect(page.locator('body')).toContainText('node-109: the doctor finds NVIDIA device plugin running on the node failing');
});
