// GPU work in the browser: the seeds' TensorFlow job submitted from the form runs on a GPU node,
// its page shows the GPU busy and its logs streaming, clone fills the form, delete names the GPU
// it frees; a workspace gets its NodePort; the seeds' 2x2 pod never fits; a full quota is refused
// in plain words under "GPUs"; a viewer cannot submit.
import { Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, hydrated, signIn } from './helpers';

function stateToken(file: string): string {
  return readFileSync(join(__dirname, '..', '..', '.state', 'e2e', file), 'utf8').trim();
}

const unique = () => Date.now().toString(36);

/** Opens the form, signed in with `token`, ready to type. */
async function openForm(page: Page, token: string) {
  await signIn(page, token);
  await page.goto('/submit');
  await hydrated(page);
  await expect(page.getByTestId('submit-form')).toBeVisible();
}

test('the seeds\' TensorFlow job runs from the form; its page shows the busy GPU, streams logs, clones and deletes', async ({ page }) => {
  const name = `tf-${unique()}`;
  await openForm(page, stateToken('researcher.token'));
  await page.getByTestId('namespace').selectOption('ai');
  await page.getByTestId('name').fill(name);
  await page.getByTestId('command').fill('python\n-u\ntrain.py');
  await page.getByTestId('gpus').fill('1');
  await expect(page.getByTestId('manifest')).toContainText('nvidia.com/gpu: "1"');
  await expect(page.getByTestId('fit')).toContainText('Fits now on');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('submitted')).toContainText(`Submitted: Job/${name}`);

  await page.getByTestId('submitted-link').click();
  await expect(page).toHaveURL(new RegExp(`/workloads/ai/${name}$`));
  await hydrated(page);
  await expect(page.getByTestId('workload-state')).toHaveText('Running', { timeout: 30_000 });
  // Its GPU, busy, as the exporter reports it (the page refreshes on its own).
  await expect(page.getByTestId('workload-gpus').locator('.gpu-card .now')).toContainText(/\b([5-9]\d|100) %/, { timeout: 30_000 });
  await expect(page.getByTestId('workload-events')).toContainText('Scheduled');

  // Follow: epochs arrive on the open stream.
  await page.getByTestId('log-follow').check();
  await expect(page.getByTestId('stream-open')).toBeVisible();
  await expect(page.getByTestId('logs')).toContainText('Epoch 2/10', { timeout: 30_000 });
  await page.getByTestId('log-search').fill('epoch 2/');
  await expect(page.getByTestId('log-count')).toContainText('match');
  await expect(page.getByTestId('logs')).not.toContainText('Created device');
  await expect(page.getByTestId('log-download')).toHaveAttribute('href', /\/api\/v1\/namespaces\/ai\/workloads\/.+\/logs\?tailLines=10000/);

  // Clone: the form, filled, under the next name.
  await page.getByTestId('clone').click();
  await expect(page).toHaveURL(/\/submit\?fromNamespace=ai&from=/);
  await hydrated(page);
  await expect(page.getByTestId('name')).toHaveValue(`${name}-2`);
  await expect(page.getByTestId('command')).toHaveValue('python\n-u\ntrain.py');

  // The overview lists it among the running work, beside the tiles.
  await page.goto('/');
  await hydrated(page);
  await expect(page.getByTestId('overview-running')).toContainText(name);

  // Delete, after a confirmation naming the GPU it frees.
  await page.goto(`/workloads/ai/${name}`);
  await hydrated(page);
  let asked = '';
  page.once('dialog', (dialog) => { asked = dialog.message(); void dialog.accept(); });
  await page.getByTestId('delete-workload').click();
  await expect(page.getByTestId('deleted')).toContainText(`Job/${name}`);
  expect(asked).toMatch(/frees 1 GPU\(s\) on /);
});

test('a workspace gets a NodePort shown with its node\'s address', async ({ page }) => {
  const name = `lab-${unique()}`;
  await openForm(page, stateToken('admin.token'));
  await page.getByTestId('kind').selectOption('Workspace');
  await page.getByTestId('namespace').selectOption('default');
  await page.getByTestId('name').fill(name);
  await page.getByTestId('image').fill('jupyter/base-notebook:latest');
  await page.getByTestId('gpus').fill('0');
  await page.getByTestId('ports').fill('8888');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('node-ports')).toHaveText(/^8888 → 3\d{4}$/);
  await page.getByTestId('submitted-link').click();
  await hydrated(page);
  await expect(page.getByTestId('exposed')).toContainText(/8888 → 3\d{4} \d+\.\d+\.\d+\.\d+:3\d{4}/, { timeout: 30_000 });
  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByTestId('delete-workload').click();
  await expect(page.getByTestId('deleted')).toContainText(`Deployment/${name}, Service/${name}`);
});

test('the seeds\' 2x2 pod is said never to fit, and is refused under GPUs', async ({ page }) => {
  await openForm(page, stateToken('admin.token'));
  await page.getByTestId('name').fill(`big-${unique()}`);
  await page.getByTestId('gpus').fill('2');
  await expect(page.getByTestId('fit')).toContainText('Never fits: needs 2 GPUs, the largest node has 1');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('refusal-gpus')).toContainText('no node has that many GPUs: the largest has 1');
});

test('a full quota is refused in plain words under GPUs, with the cluster\'s text beneath', async ({ page, request }) => {
  const researcher = stateToken('researcher.token');
  const holders = [`hold-a-${unique()}`, `hold-b-${unique()}`];
  const headers = { Authorization: `Bearer ${researcher}` };
  // Fill the namespace's 2-GPU quota (a refusal here means it is full already).
  for (const name of holders) {
    const made = await request.post('/api/v1/workloads', {
      headers,
      data: { kind: 'Workspace', name, namespace: 'ai', image: 'busybox', command: ['sleep', 'infinity'], gpus: 1 },
    });
    expect([201, 422]).toContain(made.status());
  }
  try {
    await openForm(page, researcher);
    await page.getByTestId('namespace').selectOption('ai');
    await page.getByTestId('name').fill(`over-${unique()}`);
    await page.getByTestId('gpus').fill('1');
    await page.getByTestId('dry-run').click();
    const refusal = page.getByTestId('refusal-gpus');
    await expect(refusal).toContainText('Over the namespace\'s quota gpu-quota');
    await expect(refusal).toContainText('exceeded quota: gpu-quota');
  } finally {
    for (const name of holders) {
      await request.delete(`/api/v1/namespaces/ai/workloads/${name}`, { headers });
    }
  }
});

test('a viewer is told they cannot submit, and the form stays shut', async ({ page }) => {
  await openForm(page, stateToken('viewer.token'));
  await expect(page.getByTestId('submit-denied')).toContainText('may not create Jobs');
  await expect(page.getByTestId('submit')).toBeDisabled();
});
