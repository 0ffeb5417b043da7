import { test, expect, devices, Browser, BrowserContext, Page } from "@playwright/test";
import { randomUUID } from "node:crypto";
import { badControlsInPage, closeOpened, expectRemoteVideoFlowing, fakeShareSheet, launchAskingChromium, newContext, openHydrated, printPageLog } from "./helpers";

// Every view on the screens people hold (issue #12): iPhone SE (320 px), iPhone 13, Pixel 7
// upright and sideways, a 1366×768 desktop, 200 % text and dark mode. Each view is kept as
// a screenshot (in this test's output folder, `screens/<screen>/<view>.png`) and checked:
// nothing scrolls sideways, and every control is inside the screen and is what a tap at
// its centre reaches (not cut off, not under a toast, the video or another control).

test.afterEach(closeOpened);

type Screen = { name: string; use: Record<string, unknown>; bigText?: boolean };

const phone = (name: string) => {
  const { defaultBrowserType: _, ...use } = devices[name];
  return use;
};

const SCREENS: Screen[] = [
  { name: "iphone-se", use: phone("iPhone SE") },
  { name: "iphone-13", use: phone("iPhone 13") },
  { name: "pixel-7", use: phone("Pixel 7") },
  { name: "pixel-7-landscape", use: phone("Pixel 7 landscape") },
  { name: "desktop", use: { viewport: { width: 1366, height: 768 } } },
  { name: "iphone-13-text-200", use: phone("iPhone 13"), bigText: true },
  { name: "pixel-7-dark", use: { ...phone("Pixel 7"), colorScheme: "dark" } },
];

/** Keeps `page`'s view as a screenshot and checks its controls (see `badControlsInPage`). */
async function look(page: Page, screen: Screen, view: string): Promise<void> {
  await page.waitForTimeout(300); // transitions settle
  await page.screenshot({ path: test.info().outputPath(`screens/${screen.name}/${view}.png`), scale: "css" });
  const bad = await page.evaluate(badControlsInPage);
  expect.soft(bad, `${screen.name}, ${view}: every control inside the screen and reachable`).toEqual([]);
}

/** A page of its own on `screen`, with 200 % text where the screen asks for it. */
async function open(browser: Browser, screen: Screen, url: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext(browser, { locale: "ru-RU", ...screen.use });
  const page = await context.newPage();
  printPageLog(page);
  if (screen.use.hasTouch) {
    await page.addInitScript(fakeShareSheet);
  }
  if (screen.bigText) {
    // What the browser's text-size setting does: the default font is twice as large.
    const cdp = await context.newCDPSession(page);
    await cdp.send("Page.setFontSizes", { fontSizes: { standard: 32, fixed: 26 } });
  }
  await openHydrated(page, url);
  return { context, page };
}

for (const screen of SCREENS) {
  test(`every view on ${screen.name}`, async ({ browser }) => {
    test.setTimeout(120_000);
    const host = await open(browser, screen, "/");
    await look(host.page, screen, "home");

    await host.page.getByRole("button", { name: "Позвонить" }).click();
    await expect(host.page.locator('[data-screen="share"]')).toBeVisible();
    await look(host.page, screen, "share");
    const link = await host.page.getByLabel("Ссылка на звонок").first().inputValue();

    // A guest who comes before the host has started waits, and is told for whom.
    const early = await open(browser, screen, `/?session=${randomUUID()}`);
    await expect(early.page.locator("section.call")).toBeVisible();
    await early.page.waitForTimeout(1_000);
    await look(early.page, screen, "guest-first");
    await early.context.close();

    await host.page.getByRole("button", { name: "Начать звонок" }).click();
    await expect(host.page.locator("section.call")).toBeVisible();
    await look(host.page, screen, "waiting");
    // Before the call: the devices, over the host's own picture.
    await host.page.getByRole("button", { name: "Устройства" }).click();
    await expect(host.page.locator(".devices select").first()).toBeVisible();
    await look(host.page, screen, "devices");
    await host.page.keyboard.press("Escape");
    await expect(host.page.locator(".devices")).toBeHidden();

    const guest = await open(browser, screen, link);
    await expectRemoteVideoFlowing(guest.page);
    await expectRemoteVideoFlowing(host.page);
    await look(host.page, screen, "in-call-host");
    // The self-view takes the camera's shape (this fake camera is 4:3, landscape), its
    // short side at most about 30 % of the screen's.
    const self = await host.page.evaluate(() => {
      const box = document.querySelector(".self")!.getBoundingClientRect();
      const video = document.querySelector("video.local") as HTMLVideoElement;
      return { w: box.width, h: box.height, shape: video.videoWidth / video.videoHeight, screen: Math.min(innerWidth, innerHeight) };
    });
    expect.soft(Math.abs(self.w / self.h - self.shape), `${screen.name}: the self-view in the camera's shape`).toBeLessThan(0.05);
    expect.soft(Math.min(self.w, self.h), `${screen.name}: the self-view's short side`).toBeLessThanOrEqual(self.screen * 0.3 + 1);
    await look(guest.page, screen, "in-call-guest");

    await guest.page.getByRole("button", { name: /^Камера — выключить/ }).click();
    await guest.page.getByRole("button", { name: /^Микрофон — выключить/ }).click();
    await expect(host.page.getByText("Камера собеседника выключена")).toBeVisible();
    await expect(host.page.getByText("Микрофон собеседника выключен")).toBeVisible();
    await look(host.page, screen, "peer-camera-off");
    await look(guest.page, screen, "own-camera-off");

    // The chat: a line from the guest is counted on the host's control, then read.
    await guest.page.locator(".chat-control").click();
    await guest.page.getByLabel("Сообщение").fill("Привет! Как доехали? Пришлю фото с дачи чуть позже.");
    await guest.page.getByLabel("Сообщение").press("Enter");
    await expect(host.page.locator(".chat-control .unread")).toHaveText("1");
    // The count stays on the control once the passing «Новое сообщение» has gone.
    await expect(host.page.locator(".notice")).toHaveCount(0, { timeout: 6_000 });
    await look(host.page, screen, "chat-unread");
    await host.page.locator(".chat-control").click();
    await expect(host.page.locator(".chat .messages li.theirs")).toHaveCount(1);
    await look(host.page, screen, "chat");
    await look(guest.page, screen, "chat-sent");
    for (const page of [host.page, guest.page]) await page.keyboard.press("Escape");
    await expect(guest.page.locator(".chat")).toBeHidden();

    // Verification: the chip in the top bar, the code, the name, and the chip verified.
    await host.page.locator(".top-bar .verify").click();
    await expect(host.page.locator(".sheet.verify .code li")).toHaveCount(4);
    await look(host.page, screen, "verify");
    await host.page.getByRole("button", { name: "Совпадает", exact: true }).click();
    await host.page.getByLabel("Кто это? Имя останется только на этом устройстве").fill("Бабушка Валентина");
    await look(host.page, screen, "verify-name");
    await host.page.getByRole("button", { name: "Сохранить" }).click();
    await expect(host.page.locator(".sheet.verify .standing")).toHaveText("Проверено: это Бабушка Валентина.");
    await host.page.keyboard.press("Escape");
    await expect(host.page.locator(".sheet.verify")).toBeHidden();
    await expect(host.page.locator(".top-bar .verify")).toHaveText("Бабушка Валентина · проверено");
    await look(host.page, screen, "verified");

    const third = await open(browser, screen, link);
    await expect(third.page.locator('[data-screen="end"]')).toBeVisible();
    await look(third.page, screen, "busy");
    await third.context.close();

    await guest.page.getByRole("button", { name: "Завершить" }).click();
    await expect(host.page.locator('[data-screen="end"]')).toBeVisible();
    await look(host.page, screen, "end-host");
    await look(guest.page, screen, "end-guest");

    const late = await open(browser, screen, link);
    await expect(late.page.locator('[data-screen="end"]')).toBeVisible();
    await look(late.page, screen, "ended-link");
    await late.page.goto("/?session=broken");
    await expect(late.page.locator('[data-screen="end"]')).toBeVisible();
    await look(late.page, screen, "bad-link");
    await late.page.goto("/nowhere");
    await look(late.page, screen, "not-found");

    // Camera and microphone denied: a browser that asks like a real one (no auto-accepting
    // fake UI), where the person said no.
    const asking = await launchAskingChromium();
    try {
      const denied = await open(asking, screen, `/?session=${randomUUID()}`);
      await expect(denied.page.locator("section.call")).toBeVisible();
      await denied.page.waitForTimeout(1_500);
      await look(denied.page, screen, "media-denied");
    } finally {
      await asking.close();
    }
  });
}
