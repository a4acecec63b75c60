// "Add nodes": an admin creates a join token from the form, gets the exact join command, sees the
// bootstrap signer sign it, and revokes it after a confirmation that names it; refusals appear
// next to their field in both languages; the viewer gets no way to change anything.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, hydrated, kubectl, signIn } from './helpers';

const JOIN_COMMAND =
  /^kubeadm join 192\.168\.0\.113:6443 --token ([a-z0-9]{6})\.[a-z0-9]{16} --discovery-token-ca-cert-hash sha256:[0-9a-f]{64}$/;

function viewerToken(): string {
  return readFileSync(join(__dirname, '..', '..', '.state', 'e2e', 'viewer.token'), 'utf8').trim();
}

function secretExists(id: string): boolean {
  try {
    kubectl(['-n', 'kube-system', 'get', 'secret', `bootstrap-token-${id}`, '-o', 'name']);
    return true;
  } catch {
    return false;
  }
}

test('an admin creates a token, copies its join command, sees it signed and revokes it', async ({ page }) => {
  await signIn(page);
  await page.goto('/join');
  await hydrated(page);
  await expect(page.locator('h1')).toHaveText('Add nodes');
  await expect(page.getByTestId('discovery')).toContainText('192.168.0.113:6443');
  await expect(page.getByTestId('token-ttl')).toHaveValue('86400');
  await expect(page.getByTestId('token-groups')).toHaveValue('system:bootstrappers:kubeadm:default-node-token');
  await page.getByTestId('token-description').fill('rack 3');
  await page.getByTestId('create-token-submit').click();

  const command = page.getByTestId('join-command');
  await expect(command).toHaveText(JOIN_COMMAND);
  const id = JOIN_COMMAND.exec((await command.textContent()) ?? '')![1];
  expect(secretExists(id)).toBe(true);
  await expect(page.getByTestId('ca-hash')).toHaveText(/^sha256:[0-9a-f]{64}$/);
  expect(await command.textContent()).toContain((await page.getByTestId('ca-hash').textContent())!);

  const row = page.locator(`tr[data-token="${id}"]`);
  await expect(row).toContainText('rack 3');
  await expect(row).toContainText('authentication,signing');
  // The signer adds the signature a moment later; the list refreshes on the next visit.
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(page.locator(`tr[data-token="${id}"]`).getByTestId('token-signing')).toHaveText('signed', { timeout: 1000 });
  }).toPass({ timeout: 15_000 });

  await page.locator(`tr[data-token="${id}"]`).getByTestId('revoke-token').click();
  const confirm = page.locator(`tr[data-token="${id}"]`).getByTestId('confirm-revoke');
  await expect(confirm).toContainText(`Revoke ${id}?`);
  await confirm.getByTestId('confirm-revoke-yes').click();
  await expect(page.locator(`tr[data-token="${id}"]`)).toHaveCount(0);
  expect(secretExists(id)).toBe(false);
});

/** How many join tokens' Secrets carry `description`, as the cluster holds them. */
function tokensDescribed(description: string): number {
  const list = JSON.parse(kubectl(['-n', 'kube-system', 'get', 'secrets',
    '--field-selector', 'type=bootstrap.kubernetes.io/token', '-o', 'json']));
  return list.items.filter((s: { data?: { description?: string } }) =>
    Buffer.from(s.data?.description ?? '', 'base64').toString() === description).length;
}

test('a double click makes one token; the next click after it makes the next', async ({ page }) => {
  await signIn(page);
  await page.goto('/join');
  await hydrated(page);
  const description = `double click ${Date.now()}`;
  await page.getByTestId('token-description').fill(description);
  await page.getByTestId('create-token-submit').dblclick();
  await expect(page.getByTestId('join-command')).toHaveText(JOIN_COMMAND);
  const rows = page.locator('[data-testid="tokens-table"] tbody tr', { hasText: description });
  await expect(rows).toHaveCount(1);
  expect(tokensDescribed(description)).toBe(1);

  // The list reloaded with the token, and the form with a fresh request: a new token.
  const first = await page.getByTestId('revealed-token').textContent();
  await page.getByTestId('token-description').fill(description);
  await page.getByTestId('create-token-submit').click();
  await expect(page.getByTestId('revealed-token')).not.toHaveText(first!);
  await expect(rows).toHaveCount(2);
  expect(tokensDescribed(description)).toBe(2);
});

test('a refused field says why next to it, in English and in Chinese, and nothing is created', async ({ page }) => {
  await signIn(page);
  await page.goto('/join');
  await hydrated(page);
  const rows = page.locator('[data-testid="tokens-table"] tbody tr');
  const before = await rows.count();

  await page.getByTestId('token-groups').fill('system:masters');
  await page.getByTestId('create-token-submit').click();
  await expect(page.getByTestId('refusal-groups')).toHaveText(
    'bootstrap group "system:masters" is invalid (must match \\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\\z)');

  await page.getByTestId('lang-switch').click();
  await expect(page.locator('h1')).toHaveText('添加节点');
  await page.getByTestId('token-groups').fill('system:bootstrappers:kubeadm:default-node-token');
  await page.getByTestId('usage-authentication').uncheck();
  await page.getByTestId('create-token-submit').click();
  await expect(page.getByTestId('refusal-groups')).toHaveText('附加组需要令牌具有“认证”用途');
  await expect(rows).toHaveCount(before);

  await page.getByTestId('token-ttl').selectOption('0');
  await expect(page.getByTestId('never-warning')).toContainText('永不过期的令牌');
  await page.getByTestId('guide-ubuntu').click();
  await expect(page.getByTestId('join-guide')).toContainText('update-initramfs');
  await page.getByTestId('lang-switch').click();
  await expect(page.locator('h1')).toHaveText('Add nodes');
});

test('the viewer sees why and gets no way to create or revoke', async ({ page }) => {
  await signIn(page, viewerToken());
  await page.goto('/join');
  await hydrated(page);
  await expect(page.getByTestId('list-denied')).toContainText('may not list Secrets in kube-system');
  await expect(page.getByTestId('create-denied')).toBeVisible();
  await expect(page.getByTestId('create-token-submit')).toBeDisabled();
  await expect(page.getByTestId('revoke-token')).toHaveCount(0);
  await expect(page.getByTestId('discovery')).toContainText('192.168.0.113:6443');
  // The guide is for everyone.
  await expect(page.getByTestId('join-guide')).toContainText('kubeadm join');
});
