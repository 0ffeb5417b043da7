import { chromium, expect, test, Browser, BrowserContext, Page } from "@playwright/test";
import { createHash, randomBytes } from "node:crypto";
import { deflateSync } from "node:zlib";
import { withChromiumsOwnCamera } from "../fake-camera";

/** Every context a test opened, closed after it so no page keeps calling in the background. */
const opened: BrowserContext[] = [];

/** Closes the contexts the test opened; each spec file runs it after every test. */
export async function closeOpened(): Promise<void> {
  for (const context of opened.splice(0)) await context.close().catch(() => {});
}

/** A new browser context that is closed after the test. */
export async function newContext(browser: Browser, options = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  opened.push(context);
  return context;
}

/**
 * A Chromium of the test's own that asks for camera and microphone like a real one (the
 * suite's without its auto-accepting fake UI): what a context does not grant is denied.
 * The test closes it.
 */
export function launchAskingChromium(): Promise<Browser> {
  const use = test.info().project.use;
  return chromium.launch({
    ...use.launchOptions,
    args: (use.launchOptions?.args ?? []).filter((a) => a !== "--use-fake-ui-for-media-stream"),
  });
}

/**
 * A Chromium of the test's own with `count` fake cameras, microphones and speakers
 * (Chromium's own camera, not the small clip). The test closes it.
 */
export function chromiumWithDevices(count: number): Promise<Browser> {
  const use = test.info().project.use;
  return chromium.launch({
    ...use.launchOptions,
    args: withChromiumsOwnCamera(use.launchOptions?.args ?? []).map((a) =>
      a === "--use-fake-device-for-media-stream" ? `${a}=device-count=${count}` : a,
    ),
  });
}

/**
 * In the page, before its scripts: a phone's share sheet (this Chromium on Linux has
 * none) that keeps what it is given in `window.__shared`. For `addInitScript`.
 */
export function fakeShareSheet(): void {
  const shared: ShareData[] = [];
  (window as unknown as { __shared: ShareData[] }).__shared = shared;
  navigator.share = async (data?: ShareData) => {
    shared.push(data ?? {});
  };
}

/** In the page (for `addInitScript`), before its scripts: keeps every data channel it makes in `window.__channels`. */
export function keepDataChannels(): void {
  const kept: RTCDataChannel[] = [];
  (window as unknown as { __channels: RTCDataChannel[] }).__channels = kept;
  const original = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (this: RTCPeerConnection, ...args: Parameters<typeof original>) {
    const channel = original.apply(this, args);
    kept.push(channel);
    return channel;
  };
}

/** Opens a page in its own browser context (a person of their own) and waits for hydration. */
export async function person(browser: Browser, url = "/"): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext(browser);
  const page = await context.newPage();
  printPageLog(page);
  if (url !== "about:blank") await openHydrated(page, url);
  return { context, page };
}

/** Whether HOMECALL_TEST_PAGE_LOG=all asks for every line of the pages' logs. */
export const ALL_PAGE_LOG = process.env.HOMECALL_TEST_PAGE_LOG === "all";

/** How a page's log line is printed: with the time when every line is (to line them up). */
export function pageLogLine(browser: string, type: string, text: string): string {
  const at = ALL_PAGE_LOG ? `${new Date().toISOString().slice(11, 23)} ` : "";
  return `${at}[${browser} ${type}] ${text}`;
}

/**
 * Prints the page's warnings and errors; every line of its log, timed, with
 * HOMECALL_TEST_PAGE_LOG=all (to see what a failing test's pages did).
 */
export function printPageLog(page: Page): void {
  page.on("console", (m) => {
    if (ALL_PAGE_LOG || m.type() === "error" || m.type() === "warning") console.log(pageLogLine("page", m.type(), m.text()));
  });
}

/** Navigates and waits until the wasm client has taken over the page. */
export async function openHydrated(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator("html[data-hydrated]").waitFor({ state: "attached", timeout: 30_000 });
}

/** The host presses «Позвонить» and reads the link from the page. */
export async function startCallAsHost(page: Page): Promise<string> {
  await page.getByRole("button", { name: "Позвонить" }).click();
  const link = await page.getByLabel("Ссылка на звонок").first().inputValue();
  expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?session=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  return link;
}

/** Frames the remote <video> has decoded and presented so far. */
export async function remoteFrames(page: Page): Promise<number> {
  return page.evaluate(() => {
    const video = document.querySelector("video.remote") as HTMLVideoElement | null;
    if (!video || video.videoWidth === 0) return 0;
    return video.getVideoPlaybackQuality().totalVideoFrames;
  });
}

/** Waits until remote video really flows: frames decoded, and more of them half a second later. */
export async function expectRemoteVideoFlowing(page: Page, timeout = 30_000): Promise<void> {
  await expect
    .poll(
      async () => {
        const before = await remoteFrames(page);
        await page.waitForTimeout(500);
        const after = await remoteFrames(page);
        return before > 0 && after > before;
      },
      { timeout, message: "remote video frames decoded and increasing" },
    )
    .toBe(true);
}

/**
 * In the page: the loudest sample of the remote audio over `ms`, measured with WebAudio.
 * Plain browser code, so Puppeteer's Firefox pages run it too.
 */
export async function remotePeakInPage(ms: number): Promise<number> {
  const video = document.querySelector("video.remote") as HTMLVideoElement;
  const stream = video.srcObject as MediaStream;
  const ctx = new AudioContext();
  await ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const data = new Float32Array(analyser.fftSize);
  let peak = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    analyser.getFloatTimeDomainData(data);
    for (const v of data) peak = Math.max(peak, Math.abs(v));
    await new Promise((r) => setTimeout(r, 20));
  }
  await ctx.close();
  return peak;
}

/** Loudest sample of the remote audio over `ms` in a Playwright page. */
export async function remotePeak(page: Page, ms = 2_500): Promise<number> {
  await page.mouse.click(5, 5); // a user gesture, so the AudioContext may run
  return page.evaluate(remotePeakInPage, ms);
}

/**
 * In the page, before its scripts: keeps every RTCPeerConnection it makes in
 * `window.__pcs`, so a test can read their stats. Plain browser code, so Playwright's
 * `addInitScript` and Puppeteer's `evaluateOnNewDocument` both take it.
 */
export function keepPeerConnections(): void {
  const Original = window.RTCPeerConnection;
  const kept: RTCPeerConnection[] = [];
  (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = kept;
  class Kept extends Original {
    constructor(config?: RTCConfiguration) {
      super(config);
      kept.push(this);
    }
  }
  window.RTCPeerConnection = Kept;
}

/**
 * In the page: the candidate pair that carries its live connection (kept by
 * `keepPeerConnections`): each end's address and type, and the round trip. Plain browser
 * code for both engines: Chromium names the pair on its transport, Firefox marks it
 * `selected`.
 */
export async function selectedPairInPage(): Promise<{ localAddress: string; types: string; rttMs: number } | undefined> {
  const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
  for (const pc of pcs) {
    if (pc.connectionState !== "connected") continue;
    const stats = await pc.getStats();
    let pair: any;
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    if (!pair) stats.forEach((s) => { if (s.type === "candidate-pair" && s.selected) pair = s; });
    const local = pair ? stats.get(pair.localCandidateId) : undefined;
    const remote = pair ? stats.get(pair.remoteCandidateId) : undefined;
    if (local && remote) {
      return {
        localAddress: local.address ?? local.ip,
        types: `${local.candidateType}/${remote.candidateType}`,
        rttMs: (pair.currentRoundTripTime ?? 0) * 1000,
      };
    }
  }
  return undefined;
}

/**
 * In the page: each visible control that is cut off or covered, with why. A control is fine
 * when its box lies inside the viewport and the element a tap at its centre reaches is the
 * control itself or inside it, once scrolled to (a page taller than the screen may scroll
 * down; the call screen never scrolls). Plain browser code, so Puppeteer's Firefox pages
 * run it too.
 */
export function badControlsInPage(): string[] {
  const bad: string[] = [];
  const width = window.innerWidth;
  const height = window.innerHeight;
  // Controls, and what a person must read or scan: headings, the link, the QR code, the status.
  const wanted = "button, a[href], input, [tabindex='0'], h1, .link, img.qr, .status, [role=alert], .peer-camera-off";
  for (const element of document.querySelectorAll<HTMLElement>(wanted)) {
    // A page taller than the screen scrolls: a control below the fold is fine once there.
    const control = element.matches("button, a[href], input, [tabindex='0']");
    const tall = !control && element.getBoundingClientRect().height > height;
    element.scrollIntoView({ block: tall ? "start" : "nearest", inline: "nearest" });
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    if (box.width === 0 || box.height === 0 || style.visibility === "hidden" || style.display === "none") continue;
    const name = `${element.tagName.toLowerCase()} «${(element.getAttribute("aria-label") ?? element.textContent ?? "").trim().slice(0, 40)}»`;
    const edge = 0.5;
    // Text taller than the screen (a long message at 200 %) is read by scrolling through
    // it: its width must fit, and its start must show. A control must fit whole.
    const bottom = tall ? box.top + 1 : box.bottom;
    if (box.left < -edge || box.top < -edge || box.right > width + edge || bottom > height + edge) {
      bad.push(`${name} is cut off: ${Math.round(box.left)},${Math.round(box.top)} – ${Math.round(box.right)},${Math.round(box.bottom)} in ${width}×${height}`);
      continue;
    }
    const y = tall ? box.top + 10 : box.top + box.height / 2;
    const hit = document.elementFromPoint(box.left + box.width / 2, y);
    if (!hit || !(hit === element || element.contains(hit))) {
      const by = hit ? `${hit.tagName.toLowerCase()}.${[...hit.classList].join(".")}` : "nothing";
      bad.push(`${name} is covered by ${by}`);
    }
  }
  if (document.documentElement.scrollWidth > width) bad.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${width})`);
  return bad;
}

/**
 * A PNG of `width` × `height` random pixels, stored uncompressed (about 3 bytes a pixel),
 * and the SHA-256 (hex) of its pixels' RGB bytes, row by row.
 */
export function randomPng(width: number, height: number): { png: Buffer; pixelsSha256: string } {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const typed = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(typed));
    return Buffer.concat([length, typed, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // RGB
  const rows = randomBytes((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) rows[y * (width * 3 + 1)] = 0; // filter: none
  const pixels = Buffer.concat(Array.from({ length: height }, (_, y) => rows.subarray(y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1))));
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows, { level: 0 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
  return { png, pixelsSha256: createHash("sha256").update(pixels).digest("hex") };
}

/**
 * In the page: the SHA-256 (hex) of the RGB bytes of the last photo the chat shows on
 * `side` (`mine` or `theirs`), as decoded. Plain browser code, so Puppeteer's Firefox
 * pages run it too.
 */
export async function lastChatPhotoPixelsInPage(side: string): Promise<string> {
  const images = document.querySelectorAll<HTMLImageElement>(`.chat .messages li.${side} img`);
  const image = images[images.length - 1];
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d")!;
  context.drawImage(image, 0, 0);
  const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) rgb.set(rgba.subarray(i, i + 3), j);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", rgb));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}
