import { test, expect, Browser, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import {
  closeOpened,
  expectRemoteVideoFlowing,
  keepPeerConnections,
  newContext,
  openHydrated,
  startCallAsHost,
} from "./helpers";

// Calls on networks that change under them. Every change is made to the test's own
// network namespace (scripts/in-netns.sh: loopback plus the veth pair hc0/hc1), and
// undone after the test; no packet can leave it.
test.afterEach(closeOpened);

/** Runs `ip` with `args` in the test namespace. */
function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "pipe" });
}

/** The namespace's IPv4 addresses on the veth pair, as `ip` lists them. */
function vethAddresses(): string[] {
  const out = execFileSync("ip", ["-4", "-o", "addr", "show"], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((line) => / hc[01] /.test(line))
    .map((line) => line.split(/\s+/)[3])
    .sort();
}

/** A person whose page keeps its peer connections, so the test can read their stats. */
async function observedPerson(browser: Browser, url = "/"): Promise<Page> {
  const context = await newContext(browser);
  await context.addInitScript(keepPeerConnections);
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") console.log(`[page ${m.type()}] ${m.text()}`);
  });
  await openHydrated(page, url);
  return page;
}

/** The local address of the candidate pair that carries the live connection. */
async function selectedLocalAddress(page: Page): Promise<string | undefined> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
    for (const pc of pcs) {
      if (pc.connectionState !== "connected") continue;
      const stats = await pc.getStats();
      let pairId: string | undefined;
      stats.forEach((s) => {
        if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      });
      const pair = pairId ? stats.get(pairId) : undefined;
      const local = pair ? stats.get(pair.localCandidateId) : undefined;
      if (local) return local.address ?? local.ip;
    }
    return undefined;
  });
}

test("the machine's address changes mid-call (Wi-Fi to LTE) and the call comes back by itself", async ({ browser }) => {
  const host = await observedPerson(browser);
  const link = await startCallAsHost(host);
  await host.getByRole("button", { name: "Начать звонок" }).click();
  const guest = await observedPerson(browser, link);
  await expectRemoteVideoFlowing(guest);
  await expectRemoteVideoFlowing(host);
  const before = vethAddresses();
  expect(before).toEqual(["10.200.0.1/24", "10.200.0.2/24"]);
  try {
    // As a phone moving from Wi-Fi to LTE: the new addresses come up, then the old go.
    const started = Date.now();
    ip("addr", "add", "10.201.0.1/24", "dev", "hc0");
    ip("addr", "add", "10.201.0.2/24", "dev", "hc1");
    ip("addr", "del", "10.200.0.1/24", "dev", "hc0");
    ip("addr", "del", "10.200.0.2/24", "dev", "hc1");
    for (const page of [guest, host]) {
      await expect
        .poll(() => selectedLocalAddress(page), {
          timeout: 20_000,
          intervals: [100],
          message: "a connected path on the new addresses",
        })
        .toMatch(/^10\.201\.0\.[12]$/);
    }
    const ms = Date.now() - started;
    console.log(`address change: both sides on the new addresses in ${ms} ms`);
    test.info().annotations.push({ type: "reconnect-ms:address-change", description: String(ms) });
    for (const page of [guest, host]) await expectRemoteVideoFlowing(page, 10_000);
    expect(ms).toBeLessThan(5_000);
  } finally {
    for (const [address, dev] of [["10.200.0.1/24", "hc0"], ["10.200.0.2/24", "hc1"]]) {
      if (!vethAddresses().includes(address)) ip("addr", "add", address, "dev", dev);
    }
    for (const [address, dev] of [["10.201.0.1/24", "hc0"], ["10.201.0.2/24", "hc1"]]) {
      if (vethAddresses().includes(address)) ip("addr", "del", address, "dev", dev);
    }
    // The namespace's default route goes with hc0's last address: put it back.
    execFileSync("sh", ["-c", "ip route show default | grep -q . || ip route add default dev hc0"]);
  }
});
