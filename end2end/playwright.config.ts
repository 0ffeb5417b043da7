import { defineConfig } from "@playwright/test";
import { smallFakeCamera } from "./fake-camera";

// Two browser contexts are two people. Debian's Chromium with a fake camera (a small
// clip: fake-camera.ts) and microphone; the whole run (browser and server) lives in a
// private network namespace (scripts/in-netns.sh), since WebRTC ignores loopback and must
// not use a real interface.
const port = Number(process.env.HOMECALL_TEST_PORT ?? 3000);

export default defineConfig({
  testDir: "./tests",
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  // On CI a test that fails is run once more, and one that passes only then is counted
  // and named in the summary ("flaky"): a slow shared machine can miss a timing bound.
  retries: process.env.CI ? 1 : 0,
  reporter: [["list"], ["json", { outputFile: "results.json" }]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    locale: "ru-RU",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-video-capture=${smallFakeCamera()}`,
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: {
    command: process.env.HOMECALL_BIN ?? "target/release/homecall",
    cwd: "..",
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      HOMECALL_LISTEN: `127.0.0.1:${port}`,
      HOMECALL_SITE_ROOT: "target/site",
      HOMECALL_LOG: "info",
      // Every test person comes from 127.0.0.1: lift the per-address limits for the suite.
      HOMECALL_MAX_SOCKETS_PER_IP: "10000",
      HOMECALL_NEW_SESSIONS_PER_IP_PER_MINUTE: "10000",
      HOMECALL_MAX_CONNECTIONS_PER_IP: "10000",
      HOMECALL_TURN_CREDENTIALS_PER_IP_PER_MINUTE: "10000",
    },
  },
});
