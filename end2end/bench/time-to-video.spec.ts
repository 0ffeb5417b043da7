import { test, expect, Browser, Page } from "@playwright/test";
import { closeOpened, newContext, printPageLog, startCallAsHost } from "../tests/helpers";

/**
 * Time to video, measured as a person gets it: the release build as it ships, two
 * Chromium contexts with the small fake camera, in the private network namespace
 * (loopback and a veth pair). A benchmark, not a test: it asserts only that each call
 * connects, and prints the median and spread of CALLS calls, phase by phase.
 *
 * - guest: the host has pressed «Начать звонок» and waits (its offer is queued in the
 *   hub); the guest's page opens the link. Times from the guest's navigation start.
 * - host: the guest has opened the link first and waits; the host presses «Начать
 *   звонок». Times from that click.
 *
 * The phases come from the page itself, by an init script that wraps the browser APIs
 * the client calls (nothing in the app is changed for it): the navigation and resource
 * timings (HTML, wasm, the page configuration), the `data-hydrated` mark, `getUserMedia`
 * resolving, the signal socket's `open`, the first offer it receives and the first answer
 * it sends, the ICE connection state, and the remote video's first presented frame
 * (`requestVideoFrameCallback`).
 */

const CALLS = Number(process.env.HOMECALL_BENCH_CALLS ?? 10);

/** In the page, before its scripts: records when each phase is first reached. */
function instrument(): void {
  const marks: Record<string, number> = {};
  (window as unknown as { __ttv: Record<string, number> }).__ttv = marks;
  const mark = (name: string) => {
    if (!(name in marks)) marks[name] = performance.now();
  };
  // The document, not its root element: an init script runs before <html> exists.
  new MutationObserver(() => {
    if (document.documentElement?.hasAttribute("data-hydrated")) mark("hydrated");
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-hydrated"] });
  const devices = navigator.mediaDevices;
  const getUserMedia = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints) => {
    const stream = await getUserMedia(constraints);
    mark("camera");
    return stream;
  };
  const Socket = window.WebSocket;
  class TimedSocket extends Socket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      if (!String(url).includes("/signal")) return;
      this.addEventListener("open", () => mark("socket"));
      this.addEventListener("message", (event) => {
        if (typeof event.data === "string" && event.data.includes('"type":"offer"')) mark("offer");
      });
    }
    send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      if (typeof data === "string" && data.includes('"type":"answer"')) mark("answer");
      super.send(data);
    }
  }
  window.WebSocket = TimedSocket;
  const Connection = window.RTCPeerConnection;
  class TimedConnection extends Connection {
    constructor(config?: RTCConfiguration) {
      super(config);
      mark("pc");
      this.addEventListener("iceconnectionstatechange", () => {
        if (this.iceConnectionState === "connected" || this.iceConnectionState === "completed") mark("ice");
      });
    }
    async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
      if (description.type === "offer") mark("srd");
      await super.setRemoteDescription(description);
      if (description.type === "offer") mark("srd-done");
    }
  }
  window.RTCPeerConnection = TimedConnection;
  document.addEventListener(
    "click",
    (event) => {
      const button = (event.target as Element | null)?.closest("button");
      if (button?.textContent?.includes("Начать звонок")) mark("start");
    },
    true,
  );
  const watchRemote = () => {
    const video = document.querySelector("video.remote") as (HTMLVideoElement & { __timed?: boolean }) | null;
    if (video?.srcObject && !video.__timed) {
      video.__timed = true;
      video.requestVideoFrameCallback(() => mark("frame"));
    }
    if (!("frame" in marks)) setTimeout(watchRemote, 5);
  };
  watchRemote();
}

/** The page's marks, with the HTML and wasm responses from its timings. */
async function marksOf(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const marks = { ...(window as unknown as { __ttv: Record<string, number> }).__ttv };
    const navigation = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
    if (navigation) marks.html = navigation.responseEnd;
    const wasm = performance.getEntriesByType("resource").find((entry) => entry.name.endsWith(".wasm"));
    if (wasm) marks.wasm = (wasm as PerformanceResourceTiming).responseEnd;
    const config = performance.getEntriesByType("resource").find((entry) => entry.name.includes("/api/config"));
    if (config) marks.config = (config as PerformanceResourceTiming).responseEnd;
    return marks;
  });
}

async function instrumentedPage(browser: Browser): Promise<Page> {
  const context = await newContext(browser);
  await context.addInitScript(instrument);
  const page = await context.newPage();
  printPageLog(page);
  return page;
}

/** A host's page that pressed «Позвонить», and its link. */
async function hostWithLink(browser: Browser): Promise<{ host: Page; link: string }> {
  const host = await instrumentedPage(browser);
  await host.goto("/");
  await host.locator("html[data-hydrated]").waitFor({ state: "attached" });
  return { host, link: await startCallAsHost(host) };
}

async function firstFrame(page: Page): Promise<Record<string, number>> {
  await expect.poll(async () => (await marksOf(page)).frame, { timeout: 30_000, message: "a remote frame" }).toBeGreaterThan(0);
  return marksOf(page);
}

/** Median, lowest and highest of each phase, in ms, as a Markdown table. */
function table(title: string, phases: string[], runs: Record<string, number>[], from: string): string {
  const lines = [`${title} (${runs.length} calls, ms from ${from}; median, min–max)`, "", "| phase | median | min–max |", "| --- | ---: | ---: |"];
  for (const phase of phases) {
    const values = runs.map((r) => r[phase]).filter((v) => typeof v === "number").sort((a, b) => a - b);
    if (values.length === 0) {
      lines.push(`| ${phase} | never | |`);
      continue;
    }
    const middle = values.length / 2;
    const median = values.length % 2 ? values[Math.floor(middle)] : (values[middle - 1] + values[middle]) / 2;
    lines.push(`| ${phase} | ${median.toFixed(0)} | ${values[0].toFixed(0)}–${values[values.length - 1].toFixed(0)} |`);
  }
  return lines.join("\n");
}

test.afterEach(closeOpened);

test("time to video: a guest opens the link while the host waits", async ({ browser }) => {
  const runs: Record<string, number>[] = [];
  for (let call = 0; call < CALLS; call++) {
    const { host, link } = await hostWithLink(browser);
    await host.getByRole("button", { name: "Начать звонок" }).click();
    await expect(host.getByText("Ждём собеседника…")).toBeVisible();
    // The host's offer and candidates are in the hub's queue before the guest comes.
    await host.waitForTimeout(1_000);
    const guest = await instrumentedPage(browser);
    await guest.goto(link);
    runs.push(await firstFrame(guest));
    await closeOpened();
  }
  console.log(table("Guest", ["html", "wasm", "hydrated", "socket", "offer", "config", "pc", "srd", "srd-done", "answer", "camera", "ice", "frame"], runs, "the guest's navigation"));
});

test("time to video: the host starts while the guest waits", async ({ browser }) => {
  const runs: Record<string, number>[] = [];
  for (let call = 0; call < CALLS; call++) {
    const { host, link } = await hostWithLink(browser);
    const guest = await instrumentedPage(browser);
    await guest.goto(link);
    await guest.locator("html[data-hydrated]").waitFor({ state: "attached" });
    await expect.poll(async () => (await marksOf(guest)).socket, { message: "the guest's socket" }).toBeGreaterThan(0);
    // The guest is there and waits for the host's offer.
    await guest.waitForTimeout(1_000);
    await host.getByRole("button", { name: "Начать звонок" }).click();
    const marks = await firstFrame(host);
    const since = (name: string) => (marks[name] !== undefined && marks[name] >= marks.start ? marks[name] - marks.start : undefined);
    runs.push({ ice: since("ice")!, frame: since("frame")! });
    await closeOpened();
  }
  console.log(table("Host", ["ice", "frame"], runs, "«Начать звонок»"));
});
