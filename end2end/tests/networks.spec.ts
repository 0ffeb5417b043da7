import { test, expect, chromium, Browser, Page, TestInfo } from "@playwright/test";
import { execFileSync } from "node:child_process";
import {
  ALL_PAGE_LOG,
  closeOpened,
  expectRemoteVideoFlowing,
  keepPeerConnections,
  newContext,
  openHydrated,
  printPageLog,
  selectedPairInPage,
  startCallAsHost,
} from "./helpers";
import { expectFirefoxVideoFlowing, firefoxPerson, startCallAsFirefoxHost } from "./firefox";
import { startCoturn } from "./coturn";
import { NatLab } from "./natlab";
import { withChromiumsOwnCamera } from "../fake-camera";
import { OwnServer } from "./server";

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
  printPageLog(page);
  await openHydrated(page, url);
  return page;
}

/** A call between two observed people; the time from the guest's link to video both ways. */
async function observedCall(browser: Browser): Promise<{ host: Page; guest: Page; connectMs: number }> {
  const host = await observedPerson(browser);
  const link = await startCallAsHost(host);
  await host.getByRole("button", { name: "Начать звонок" }).click();
  const started = Date.now();
  const guest = await observedPerson(browser, link);
  await expectRemoteVideoFlowing(guest, 30_000);
  await expectRemoteVideoFlowing(host, 30_000);
  return { host, guest, connectMs: Date.now() - started };
}

/** The candidate pair that carries the page's live connection. */
function selectedPair(page: Page) {
  return page.evaluate(selectedPairInPage);
}

/** The addresses before and after the move, on hc0 and hc1. */
const OLD_ADDRESSES: [string, string][] = [["10.200.0.1/24", "hc0"], ["10.200.0.2/24", "hc1"]];
const NEW_ADDRESSES: [string, string][] = [["10.201.0.1/24", "hc0"], ["10.201.0.2/24", "hc1"]];

/** As a phone moving from Wi-Fi to LTE: the new addresses come up, then the old go. */
function moveToNewAddresses(): void {
  expect(vethAddresses()).toEqual(OLD_ADDRESSES.map(([address]) => address));
  for (const [address, dev] of NEW_ADDRESSES) ip("addr", "add", address, "dev", dev);
  for (const [address, dev] of OLD_ADDRESSES) ip("addr", "del", address, "dev", dev);
}

/** Puts the namespace's addresses (and its default route) back as scripts/in-netns.sh made them. */
function restoreAddresses(): void {
  for (const [address, dev] of OLD_ADDRESSES) {
    if (!vethAddresses().includes(address)) ip("addr", "add", address, "dev", dev);
  }
  for (const [address, dev] of NEW_ADDRESSES) {
    if (vethAddresses().includes(address)) ip("addr", "del", address, "dev", dev);
  }
  execFileSync("sh", ["-c", "ip route show default | grep -q . || ip route add default dev hc0"]);
}

/** Waits until every one of `pairs` reports a live path on the new addresses; the ms it took since `started`. */
async function backOnNewAddresses(pairs: (() => Promise<{ localAddress: string } | undefined>)[], started: number, what: string) {
  for (const pair of pairs) {
    await expect
      .poll(async () => (await pair())?.localAddress, {
        timeout: 20_000,
        intervals: [100],
        message: "a connected path on the new addresses",
      })
      .toMatch(/^10\.201\.0\.[12]$/);
  }
  const ms = Date.now() - started;
  console.log(`${what}: both sides on the new addresses in ${ms} ms`);
  test.info().annotations.push({ type: `reconnect-ms:${what}`, description: String(ms) });
  return ms;
}

/** Starts recording each text the page's status line shows, with the time it appeared. */
async function recordStatusLine(page: Page): Promise<void> {
  await page.evaluate(() => {
    const shown: { text: string; at: number }[] = [];
    (window as unknown as { __statusShown: typeof shown }).__statusShown = shown;
    const status = document.querySelector("section.call .status")!;
    new MutationObserver(() => shown.push({ text: status.textContent ?? "", at: Date.now() })).observe(status, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
}

/** What the page's status line showed since recordStatusLine, and when. */
function statusShown(page: Page): Promise<{ text: string; at: number }[]> {
  return page.evaluate(() => (window as unknown as { __statusShown: { text: string; at: number }[] }).__statusShown);
}

test("the machine's address changes mid-call (Wi-Fi to LTE) and the call comes back by itself", async ({ browser }) => {
  const { host, guest } = await observedCall(browser);
  try {
    for (const page of [guest, host]) await recordStatusLine(page);
    const started = Date.now();
    moveToNewAddresses();
    const ms = await backOnNewAddresses([() => selectedPair(guest), () => selectedPair(host)], started, "address change");
    for (const page of [guest, host]) await expectRemoteVideoFlowing(page, 10_000);
    expect(ms).toBeLessThan(5_000);
    // While media stopped, the page whose watchdog saw it first (2.5 s of nothing, read
    // every 0.5 s; the connection itself still says "connected") said it was reconnecting
    // and restarted ICE. The other page may be back before its own watchdog fires, so it
    // need not say so; each page that did cleared it once back.
    let saidBy = 0;
    for (const [name, page] of [["guest", guest], ["host", host]] as const) {
      const shown = await statusShown(page);
      const said = shown.find((s) => s.text === "Связь прервалась… Переподключение");
      console.log(`address change: the ${name} said «Связь прервалась…» ${said ? `${said.at - started} ms` : "never"} after the move`);
      if (said) {
        saidBy += 1;
        expect(said.at - started).toBeLessThan(4_000);
      }
      expect(shown.at(-1)?.text ?? "").toBe("");
    }
    expect(saidBy).toBeGreaterThan(0);
  } finally {
    restoreAddresses();
  }
});

test("a Chromium host and a Firefox guest: the address changes mid-call and the call comes back by itself", async ({ browser }) => {
  const host = await observedPerson(browser);
  const link = await startCallAsHost(host);
  await host.getByRole("button", { name: "Начать звонок" }).click();
  const guest = await firefoxPerson(link);
  try {
    await expectFirefoxVideoFlowing(guest.page);
    await expectRemoteVideoFlowing(host);
    const started = Date.now();
    if (ALL_PAGE_LOG) console.log(`${new Date(started).toISOString().slice(11, 23)} the addresses change`);
    moveToNewAddresses();
    const ms = await backOnNewAddresses(
      [() => guest.page.evaluate(selectedPairInPage), () => selectedPair(host)],
      started,
      "address change, Firefox guest",
    );
    await expectFirefoxVideoFlowing(guest.page, 10_000);
    await expectRemoteVideoFlowing(host, 10_000);
    // 5 s, as for the other pairings. Firefox calls the connection "disconnected" at
    // once and restarts ICE 2 s later. Chromium's watchdog (2.5 s of nothing) leaves that
    // restart to finish rather than start a second one on top of it (which had made
    // this up to 5.4 s). Measured 2.2 s, or 4.3–4.5 s when Firefox's first restart does
    // not connect and its second, 2 s later, does.
    expect(ms).toBeLessThan(5_000);
  } finally {
    restoreAddresses();
    await guest.browser.close();
  }
});

test("a Firefox host and a Chromium guest: the address changes mid-call and the call comes back by itself", async ({ browser, baseURL }) => {
  const host = await firefoxPerson(`${baseURL}/`);
  try {
    const link = await startCallAsFirefoxHost(host.page);
    const guest = await observedPerson(browser, link);
    await expectRemoteVideoFlowing(guest);
    await expectFirefoxVideoFlowing(host.page);
    const started = Date.now();
    moveToNewAddresses();
    const ms = await backOnNewAddresses(
      [() => selectedPair(guest), () => host.page.evaluate(selectedPairInPage)],
      started,
      "address change, Firefox host",
    );
    await expectRemoteVideoFlowing(guest, 10_000);
    await expectFirefoxVideoFlowing(host.page, 10_000);
    expect(ms).toBeLessThan(5_000);
  } finally {
    restoreAddresses();
    await host.browser.close();
  }
});

/** Runs `iptables` with `args` in the test namespace. */
function iptables(...args: string[]): void {
  execFileSync("iptables", args, { stdio: "pipe" });
}

/** What the page's live connections received so far, summed over inbound RTP streams. */
async function inbound(page: Page): Promise<{ lost: number; received: number; frames: number; audioLost: number; audioReceived: number }> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
    const total = { lost: 0, received: 0, frames: 0, audioLost: 0, audioReceived: 0 };
    for (const pc of pcs) {
      if (pc.connectionState === "closed") continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type !== "inbound-rtp") return;
        total.lost += s.packetsLost ?? 0;
        total.received += s.packetsReceived ?? 0;
        if (s.kind === "video") total.frames += s.framesDecoded ?? 0;
        if (s.kind === "audio") {
          total.audioLost += s.packetsLost ?? 0;
          total.audioReceived += s.packetsReceived ?? 0;
        }
      });
    }
    return total;
  });
}

/** Video frames each page decodes per second over `ms`, and the inbound loss over it. */
async function over(pages: Page[], ms: number) {
  const before = await Promise.all(pages.map(inbound));
  await pages[0].waitForTimeout(ms);
  const after = await Promise.all(pages.map(inbound));
  return after.map((a, i) => {
    const b = before[i];
    const lost = a.lost - b.lost;
    const received = a.received - b.received;
    const audioLost = a.audioLost - b.audioLost;
    const audioReceived = a.audioReceived - b.audioReceived;
    return {
      fps: ((a.frames - b.frames) * 1000) / ms,
      lossPercent: (lost / Math.max(1, lost + received)) * 100,
      audioLossPercent: (audioLost / Math.max(1, audioLost + audioReceived)) * 100,
    };
  });
}

test("with 10 % of UDP packets lost the call connects and video keeps flowing", async ({ browser }) => {
  const rule = ["INPUT", "-p", "udp", "-m", "statistic", "--mode", "random", "--probability", "0.1", "-j", "DROP"];
  iptables("-A", ...rule);
  try {
    const { host, guest, connectMs } = await observedCall(browser);
    console.log(`10 % loss: connected in ${connectMs} ms`);
    test.info().annotations.push({ type: "connect-ms:loss-10", description: String(connectMs) });
    // Ten seconds in five windows: in every one, both sides decode new frames.
    for (let window = 0; window < 5; window++) {
      const [atGuest, atHost] = await over([guest, host], 2_000);
      console.log(
        `10 % loss, window ${window}: guest ${atGuest.fps.toFixed(1)} fps (${atGuest.lossPercent.toFixed(1)} % lost), ` +
          `host ${atHost.fps.toFixed(1)} fps (${atHost.lossPercent.toFixed(1)} % lost)`,
      );
      for (const side of [atGuest, atHost]) expect(side.fps).toBeGreaterThan(5);
    }
    // The loss is real (audio has no retransmission), and the badge says so.
    const [atGuest] = await over([guest], 4_000);
    expect(atGuest.audioLossPercent).toBeGreaterThan(5);
    await expect(guest.locator(".quality")).not.toHaveAttribute("data-quality", "good");
  } finally {
    iptables("-D", ...rule);
  }
});

/** Runs `tc` with `args` in the test namespace. */
function tc(...args: string[]): void {
  execFileSync("tc", args, { stdio: "pipe" });
}

/** What the page sends: the video's current frame height, why it is limited, audio and video bits per second so far. */
async function outbound(page: Page): Promise<{ height: number; limitation: string; videoBytes: number; audioBytes: number }> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
    const out = { height: 0, limitation: "", videoBytes: 0, audioBytes: 0 };
    for (const pc of pcs) {
      if (pc.connectionState === "closed") continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type !== "outbound-rtp") return;
        if (s.kind === "video") {
          out.height = s.frameHeight ?? 0;
          out.limitation = s.qualityLimitationReason ?? "";
          out.videoBytes += s.bytesSent ?? 0;
        } else {
          out.audioBytes += s.bytesSent ?? 0;
        }
      });
    }
    return out;
  });
}

test("on a 400 kbit/s link the call connects, video keeps flowing at a lower rate and audio stays clear", async ({}) => {
  // Chromium's own 640×480 camera: a sender that wants more than the link.
  const use = test.info().project.use;
  const wanting = await chromium.launch({ ...use.launchOptions, args: withChromiumsOwnCamera(use.launchOptions?.args ?? []) });
  // Every call's packets go over loopback in this namespace: UDP on it gets 800 kbit/s
  // for both directions together, 400 kbit/s each way; TCP (pages, signalling) is not
  // held back. The queue holds 50 packets (about 600 ms), a plain first-in first-out
  // queue as a cheap router's: no priority for anyone.
  tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10");
  tc("class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit", "burst", "1m", "cburst", "1m");
  tc("class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb", "rate", "800kbit", "ceil", "800kbit", "burst", "10kb");
  tc("qdisc", "add", "dev", "lo", "parent", "1:20", "handle", "20:", "pfifo", "limit", "50");
  tc("filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "u32", "match", "ip", "protocol", "17", "0xff", "flowid", "1:20");
  try {
    const { host, guest, connectMs } = await observedCall(wanting);
    console.log(`400 kbit/s: connected in ${connectMs} ms`);
    test.info().annotations.push({ type: "connect-ms:narrow-400k", description: String(connectMs) });
    await guest.waitForTimeout(5_000); // the senders find the link's rate
    const sentBefore = await Promise.all([host, guest].map(outbound));
    const audioBefore = await Promise.all([guest, host].map(inbound));
    for (let window = 0; window < 5; window++) {
      const [atGuest, atHost] = await over([guest, host], 2_000);
      console.log(
        `400 kbit/s, window ${window}: guest ${atGuest.fps.toFixed(1)} fps (audio ${atGuest.audioLossPercent.toFixed(1)} % lost), ` +
          `host ${atHost.fps.toFixed(1)} fps (audio ${atHost.audioLossPercent.toFixed(1)} % lost)`,
      );
      for (const side of [atGuest, atHost]) expect(side.fps).toBeGreaterThan(3);
    }
    // Audio stays clear: over the 10 s, under 3 % of its packets lost, which Opus hides
    // (in-band FEC and loss concealment). Measured: 0.0–0.2 %; with a 25-packet queue
    // the senders' probing overflowed it, and up to 5.5 % was lost.
    const audioAfter = await Promise.all([guest, host].map(inbound));
    audioAfter.forEach((after, i) => {
      const lost = after.audioLost - audioBefore[i].audioLost;
      const received = after.audioReceived - audioBefore[i].audioReceived;
      const percent = (lost / Math.max(1, lost + received)) * 100;
      console.log(`400 kbit/s, ${i ? "host" : "guest"} hears audio with ${percent.toFixed(1)} % of packets lost`);
      expect(received).toBeGreaterThan(400);
      expect(percent).toBeLessThan(3);
    });
    const sentAfter = await Promise.all([host, guest].map(outbound));
    sentAfter.forEach((after, i) => {
      const kbps = ((after.videoBytes - sentBefore[i].videoBytes) * 8) / 10_000;
      const audioKbps = ((after.audioBytes - sentBefore[i].audioBytes) * 8) / 10_000;
      console.log(
        `400 kbit/s, ${i ? "guest" : "host"} sends video ${kbps.toFixed(0)} kbit/s at ${after.height} px (limited by ${after.limitation}), audio ${audioKbps.toFixed(0)} kbit/s`,
      );
      // Bytes sent count the packets the link's queue then drops, so the bound is the
      // link's rate plus 10 % (a sender that ignored the link would fill the queue).
      expect(kbps).toBeLessThan(440);
      expect(audioKbps).toBeGreaterThan(16);
    });
    // Audio is sent with high priority, so it is the video that gives way.
    for (const page of [host, guest]) {
      const priorities = await page.evaluate(() =>
        ((window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [])
          .filter((pc) => pc.connectionState !== "closed")
          .flatMap((pc) => pc.getSenders())
          .filter((sender) => sender.track?.kind === "audio")
          .flatMap((sender) => sender.getParameters().encodings)
          .map((encoding) => `${encoding.priority}/${encoding.networkPriority}`),
      );
      expect(priorities).toEqual(["high/high"]);
    }
    for (const [name, page] of [["host", host], ["guest", guest]] as const) {
      console.log(`400 kbit/s, ${name}'s round trip: ${(await selectedPair(page))?.rttMs.toFixed(0)} ms`);
    }
    // The cap really held the call back: the shaper had to delay packets.
    const shaper = execFileSync("tc", ["-s", "class", "show", "dev", "lo", "classid", "1:20"], { encoding: "utf8" });
    const overlimits = Number(/overlimits (\d+)/.exec(shaper)?.[1] ?? 0);
    console.log(`400 kbit/s: the shaper held packets back ${overlimits} times`);
    expect(overlimits).toBeGreaterThan(0);
  } finally {
    await wanting.close();
    execFileSync("sh", ["-c", "tc qdisc del dev lo root 2>/dev/null || true"]);
  }
});

type HomesCall = { host: Page; guest: Page; started: number };

/**
 * A call between two homes behind NAT routers (`symmetric` or not): the host in home
 * `a`, the guest in `b`, through a hub (TLS) and coturn on the lab's public side, with
 * the pages offered `iceServers`. Runs `body` once the guest has opened the link
 * (`started`), then takes everything down, also when it fails.
 */
async function withCallAcrossHomes(
  symmetric: boolean,
  iceServers: string,
  testInfo: TestInfo,
  body: (call: HomesCall) => Promise<void>,
): Promise<void> {
  const lab = new NatLab(symmetric);
  const opened: Browser[] = [];
  let turn: ReturnType<typeof startCoturn> | undefined;
  let server: OwnServer | undefined;
  try {
    lab.up();
    turn = startCoturn(NAT_TURN_SECRET, NatLab.PUBLIC);
    server = new OwnServer(
      3105,
      { HOMECALL_ICE_SERVERS: iceServers, HOMECALL_TURN_SECRET: NAT_TURN_SECRET, ...lab.certificate() },
      NatLab.PUBLIC,
    );
    await server.start();
    // The server's certificate is the test's own.
    const args = [...(testInfo.project.use.launchOptions?.args ?? []), "--ignore-certificate-errors"];
    const inHome = async (home: "a" | "b") => {
      const browser = await chromium.launch({ executablePath: lab.chromiumIn(home), args });
      opened.push(browser);
      return browser;
    };
    const host = await observedPerson(await inHome("a"), `${server.url}/`);
    await host.getByRole("button", { name: "Позвонить" }).click();
    const link = await host.getByLabel("Ссылка на звонок").first().inputValue();
    expect(link.startsWith(`${server.url}/?session=`)).toBe(true);
    await host.getByRole("button", { name: "Начать звонок" }).click();
    const started = Date.now();
    const guest = await observedPerson(await inHome("b"), link);
    await body({ host, guest, started });
  } finally {
    for (const browser of opened) await browser.close().catch(() => {});
    await server?.stop();
    turn?.kill("SIGTERM");
    lab.down();
  }
}

const NAT_TURN_SECRET = "e2e-nat-secret";
const STUN = `stun:${NatLab.PUBLIC}:3478`;
const TURN = `turn:${NatLab.PUBLIC}:3478?transport=udp`;

for (const symmetric of [false, true]) {
  const nats = symmetric ? "symmetric NATs" : "ordinary NATs";
  const through = symmetric ? "TURN (a relay pair)" : "STUN (a server-reflexive pair)";
  test(`two homes behind ${nats} connect through ${through}`, async ({}, testInfo) => {
    await withCallAcrossHomes(symmetric, `${STUN},${TURN}`, testInfo, async ({ host, guest, started }) => {
      await expectRemoteVideoFlowing(guest, 30_000);
      await expectRemoteVideoFlowing(host, 30_000);
      const connectMs = Date.now() - started;
      const pairs = [(await selectedPair(host))?.types, (await selectedPair(guest))?.types];
      console.log(`behind ${nats}: connected in ${connectMs} ms over ${pairs.join(" and ")} (host and guest, local/remote)`);
      testInfo.annotations.push({ type: `connect-ms:${symmetric ? "symmetric" : "cone"}-nat`, description: `${connectMs} ${pairs.join(" ")}` });
      for (const pair of pairs) {
        if (symmetric) expect(pair).toMatch(/relay/);
        else expect(pair).toMatch(/^srflx\/(srflx|prflx)$/);
      }
      // And it stays up: video still flows ten seconds on.
      await host.waitForTimeout(10_000);
      await expectRemoteVideoFlowing(guest, 5_000);
      await expectRemoteVideoFlowing(host, 5_000);
    });
  });
}

test("behind symmetric NATs with no TURN server, both pages say 20 s into trying that the call cannot connect, and what the operator must add", async ({}, testInfo) => {
  // coturn answers STUN, but the pages are offered no TURN URL.
  await withCallAcrossHomes(true, STUN, testInfo, async ({ host, guest, started }) => {
    // Each page is timed on its own. Trying starts once the other side has signalled,
    // after the guest's page has loaded: not before 20 s after the link was opened, and
    // within 30 s (a slow machine loads and signals in seconds, not ten).
    const [atGuest, atHost] = await Promise.all(
      [guest, host].map(async (page) => {
        await expect(page.locator(".notice")).toContainText("Не удаётся соединиться", { timeout: 40_000 });
        return Date.now() - started;
      }),
    );
    console.log(`behind symmetric NATs without TURN: the guest said so ${atGuest} ms and the host ${atHost} ms after the guest opened the link`);
    // The connection doctor says what is missing: STUN answers, and there is no TURN.
    for (const page of [host, guest]) {
      await expect(page.locator(".notice")).toContainText("✓ STUN", { timeout: 15_000 });
      await expect(page.locator(".notice")).toContainText("Нет TURN-сервера");
      await expect(page.locator(".notice")).toContainText("--ice-servers");
    }
    for (const ms of [atGuest, atHost]) {
      expect(ms).toBeGreaterThan(20_000);
      expect(ms).toBeLessThan(30_000);
    }
    await expect(guest.locator("section.call")).not.toHaveAttribute("data-phase", "in-call");
  });
});
