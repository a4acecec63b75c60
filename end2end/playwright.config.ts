// Browser tests: Playwright driving Debian's Chromium (never a downloaded browser) against
// `gpuboard serve --demo`. Playwright starts the server, waits for /healthz, and refuses to run
// when something already listens on the port (reuseExistingServer: false), so a stale server
// can never answer for a new build.
import { defineConfig } from '@playwright/test';

const port = Number(process.env.GPUBOARD_E2E_PORT ?? 3000);
const binary = process.env.GPUBOARD_BIN ?? 'target/debug/gpuboard';

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  webServer: {
    command: `${binary} serve --demo --listen 127.0.0.1:${port} --demo-state-dir .state/e2e --demo-exporter-port 0`,
    cwd: '..',
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
  },
});
