import { defineConfig } from "@playwright/test";
import base from "../playwright.config";

// The time-to-video benchmark (time-to-video.spec.ts): the suite's browser and server
// settings, its own folder, no retries, and time for ten calls of each kind. Not part of
// the test command: `scripts/in-netns.sh bash -c 'cd end2end && npx playwright test -c
// bench'` after `scripts/build.sh` (see BENCHMARKS.md).
export default defineConfig({
  ...base,
  testDir: ".",
  timeout: 600_000,
  retries: 0,
  reporter: [["list"]],
  outputDir: "../test-results/bench",
  // Paths in the suite's server settings are from end2end/; this file is one deeper.
  webServer: { ...(base.webServer as object), cwd: "../.." },
});
