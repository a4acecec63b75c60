import { test, expect, hydrated, kubectl, signIn } from './helpers';

function gpuPod(name: string, namespace: string, node: string, command: string[]): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node }, restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'pytorch/pytorch:latest', command, resources: { limits: { 'nvidia.com/gpu': 1 } } }],
    },
  });
}

test('the GPUs page lists every GPU and shows a new pod\'s load without reload', async ({ page }) => {
  await signIn(page);
  await page.goto('/gpus');
  await hydrated(page);
  await expect(page.locator('tr[data-gpu]')).toHaveCount(5);
  const row = page.locator('tr[data-node="node-110"]');
  await expect(row).toContainText('NVIDIA GeForce GTX 1080 Ti');
  await expect(row.getByTestId('gpu-used-by')).toHaveText('idle');
  const name = `e2e-train-${Date.now()}`;
  kubectl(['apply', '-f', '-'], gpuPod(name, 'default', 'node-110', ['python', 'train.py']));
  try {
    await expect.poll(async () => parseFloat(await row.getByTestId('gpu-util').innerText()), { timeout: 40_000 }).toBeGreaterThan(80);
    await expect(row.getByTestId('gpu-used-by')).toHaveText(`default/${name}`);
  } finally {
    kubectl(['delete', 'pod', name, '-n', 'default', '--wait=false']);
  }
});

test('a user who may list pods only in team-a sees team-a\'s pods and no one else\'s, but every GPU\'s use', async ({ page }) => {
  const suffix = Date.now();
  const sa = `viewer-${suffix}`;
  kubectl(['create', 'namespace', 'team-a'], undefined);
  kubectl(['create', 'serviceaccount', sa, '-n', 'team-a']);
  kubectl(['create', 'clusterrole', `nodes-reader-${suffix}`, '--verb=get,list,watch', '--resource=nodes']);
  kubectl(['create', 'clusterrolebinding', `nodes-reader-${suffix}`, `--clusterrole=nodes-reader-${suffix}`, `--serviceaccount=team-a:${sa}`]);
  kubectl(['create', 'rolebinding', `view-${suffix}`, '--clusterrole=view', `--serviceaccount=team-a:${sa}`, '-n', 'team-a']);
  const token = kubectl(['create', 'token', sa, '-n', 'team-a']).trim();
  const mine = `team-job-${suffix}`;
  const theirs = `other-job-${suffix}`;
  kubectl(['apply', '-f', '-'], gpuPod(mine, 'team-a', 'node-109', ['sleep', 'infinity']));
  kubectl(['apply', '-f', '-'], gpuPod(theirs, 'default', 'node-106', ['sleep', 'infinity']));
  try {
    await signIn(page, token);
    await expect(page.getByTestId('whoami')).toHaveText(`system:serviceaccount:team-a:${sa}`);
    await page.goto('/gpus');
    await hydrated(page);
    await expect(page.locator('tr[data-gpu]')).toHaveCount(5);
    await expect(page.locator('tr[data-node="node-109"]').getByTestId('gpu-used-by')).toHaveText(`team-a/${mine}`, { timeout: 30_000 });
    await expect(page.locator('tr[data-node="node-106"]').getByTestId('gpu-used-by')).toHaveText('1 pod(s) you may not see', { timeout: 30_000 });
    await expect(page.locator('body')).not.toContainText(theirs);
    const csv = await (await page.request.get('/gpus.csv')).text();
    expect(csv).toContain(mine);
    expect(csv).not.toContain(theirs);
  } finally {
    kubectl(['delete', 'pod', mine, '-n', 'team-a', '--wait=false']);
    kubectl(['delete', 'pod', theirs, '-n', 'default', '--wait=false']);
  }
});

test('the GPU inventory filters and sorts on the server, a page at a time', async ({ page }) => {
  await signIn(page);
  await page.goto('/gpus');
  await hydrated(page);
  await expect(page.getByTestId('gpu-pager')).toContainText('1–5 / 5');
  await page.getByTestId('gpu-filter').fill('tesla');
  await expect(page.locator('tr[data-gpu]')).toHaveCount(1);
  await expect(page.getByTestId('gpu-pager')).toContainText('1–1 / 1');
  await page.getByTestId('gpu-filter').fill('');
  await expect(page.locator('tr[data-gpu]')).toHaveCount(5);
  await page.locator('th', { hasText: 'Node' }).click();
  await expect(page.locator('tr[data-gpu]').first()).toHaveAttribute('data-node', 'node-110');
});
