import puppeteer, { Browser, Page } from "puppeteer-core";
import { expect } from "@playwright/test";
import { ALL_PAGE_LOG, keepPeerConnections, pageLogLine } from "./helpers";

/**
 * A person in Debian's Firefox ESR, driven by Puppeteer over WebDriver BiDi (Playwright
 * cannot drive a stock Firefox). Fake camera and microphone, no permission prompt,
 * autoplay allowed, real host addresses in ICE candidates (else only `.local` names),
 * Russian UI. Needs a default route in the test namespace: without one Firefox gathers
 * no ICE candidates at all (scripts/in-netns.sh adds it).
 */
/** A Firefox page opened at `url`; `openedAt` is when it started loading (after the browser's start). */
export async function firefoxPerson(url: string): Promise<{ browser: Browser; page: Page; openedAt: number }> {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr",
    headless: true,
    extraPrefsFirefox: {
      "media.navigator.streams.fake": true,
      "media.navigator.permission.disabled": true,
      // A small fake camera, as Chromium's in these tests (../fake-camera.ts says why).
      "media.navigator.video.default_width": 320,
      "media.navigator.video.default_height": 240,
      "media.navigator.video.default_fps": 15,
      "media.autoplay.default": 0,
      "media.autoplay.blocking_policy": 0,
      "media.peerconnection.ice.obfuscate_host_addresses": false,
      "intl.accept_languages": "ru-RU, ru",
    },
  });
  const page = await browser.newPage();
  page.on("console", (m) => {
    if (ALL_PAGE_LOG || m.type() === "error" || m.type() === "warn") console.log(pageLogLine("firefox", m.type(), m.text()));
  });
  // Firefox shows no frame count for remote WebRTC video (getVideoPlaybackQuality stays
  // 0): keep the page's peer connections so getStats can say what was decoded.
  await page.evaluateOnNewDocument(keepPeerConnections);
  const openedAt = Date.now();
  await page.goto(url);
  await page.waitForSelector("html[data-hydrated]", { timeout: 30_000 });
  return { browser, page, openedAt };
}

/** Video frames the page's peer connections have decoded so far (inbound-rtp). */
export async function framesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
    let frames = 0;
    for (const pc of pcs) {
      if (pc.connectionState === "closed") continue;
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded ?? 0;
      });
    }
    return frames;
  });
}

/** Waits until the Firefox page decodes remote video, and more of it a second later. */
export async function expectFirefoxVideoFlowing(page: Page, timeout = 30_000): Promise<void> {
  await expect
    .poll(
      async () => {
        const before = await framesDecoded(page);
        await new Promise((r) => setTimeout(r, 1000));
        const after = await framesDecoded(page);
        return before > 0 && after > before;
      },
      { timeout, message: "Firefox: remote video frames decoded and increasing" },
    )
    .toBe(true);
}

/** Clicks the button whose accessible text is `name`. */
export async function clickButton(page: Page, name: string): Promise<void> {
  await page.locator(`::-p-aria([name="${name}"][role="button"])`).click();
}

/** The host's share link, as the page shows it. */
export async function shareLink(page: Page): Promise<string> {
  const field = await page.waitForSelector('textarea[aria-label="Ссылка на звонок"]');
  await page.waitForFunction(
    (el) => (el as HTMLTextAreaElement).value.includes("?session="),
    {},
    field,
  );
  return field!.evaluate((el) => (el as HTMLTextAreaElement).value);
}

/** The Firefox host presses «Позвонить», reads the link and presses «Начать звонок». */
export async function startCallAsFirefoxHost(page: Page): Promise<string> {
  await clickButton(page, "Позвонить");
  const link = await shareLink(page);
  await clickButton(page, "Начать звонок");
  return link;
}
