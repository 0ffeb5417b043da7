import { test, expect, Browser, Page } from "@playwright/test";
import type { Page as FirefoxPage } from "puppeteer-core";
import { badControlsInPage, closeOpened, expectRemoteVideoFlowing, lastChatPhotoPixelsInPage, person, randomPng, remotePeak, selectedPairInPage, startCallAsHost } from "./helpers";
import { clickButton, expectFirefoxVideoFlowing, firefoxPerson, startCallAsFirefoxHost } from "./firefox";

// Chromium (Playwright) and Firefox ESR (Puppeteer) call each other: video both ways.
test.afterEach(closeOpened);

/**
 * Prints how long the pairing took from the moment the guest's page started loading the
 * link (after its browser started) until video flowed both ways, and which candidate pair
 * carries the call (read on a Firefox page, which keeps its connections for getStats).
 */
/** Waits for a Firefox page's end view: «Звонок завершён», with how long the call ran. */
async function firefoxCallEnded(page: FirefoxPage): Promise<void> {
  await page.waitForFunction(() => /^Звонок завершён · \d+:\d\d$/.test(document.querySelector("h1")?.textContent ?? ""), { timeout: 15_000 });
}

async function reportConnected(what: string, started: number, firefoxPage: FirefoxPage) {
  const ms = Date.now() - started;
  const pair = await firefoxPage.evaluate(selectedPairInPage);
  console.log(`${what}: video both ways ${ms} ms after the guest opened the link, over ${pair?.types ?? "?"} (Firefox's side local/remote)`);
  test.info().annotations.push({ type: `connect-ms:${what}`, description: String(ms) });
}

/**
 * A Firefox host calls a Chromium guest; `during` runs once video flows both ways, and
 * the Firefox browser is closed after it whatever happens.
 */
async function withFirefoxHostCall(
  browser: Browser,
  baseURL: string | undefined,
  during: (host: Awaited<ReturnType<typeof firefoxPerson>>, guest: { page: Page }, link: string) => Promise<void>,
): Promise<void> {
  const host = await firefoxPerson(`${baseURL}/`);
  try {
    const link = await startCallAsFirefoxHost(host.page);
    const started = Date.now();
    const guest = await person(browser, link);
    await expectRemoteVideoFlowing(guest.page);
    await expectFirefoxVideoFlowing(host.page);
    await reportConnected("Firefox host, Chromium guest", started, host.page);
    await during(host, guest, link);
  } finally {
    await host.browser.close();
  }
}

test("a Chromium host and a Firefox guest see each other", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  const guest = await firefoxPerson(link);
  try {
    await expectFirefoxVideoFlowing(guest.page);
    await expectRemoteVideoFlowing(host.page);
    await reportConnected("Chromium host, Firefox guest", guest.openedAt, guest.page);
  } finally {
    await guest.browser.close();
  }
});

test("a Firefox host and a Chromium guest see each other", async ({ browser, baseURL }) => {
  // Video both ways is what the helper waits for.
  await withFirefoxHostCall(browser, baseURL, async () => {});
});

test("two Firefox pages call each other, and the guest's hang-up ends it for both", async ({ baseURL }) => {
  const host = await firefoxPerson(`${baseURL}/`);
  let guest: Awaited<ReturnType<typeof firefoxPerson>> | undefined;
  try {
    const link = await startCallAsFirefoxHost(host.page);
    guest = await firefoxPerson(link);
    await expectFirefoxVideoFlowing(guest.page);
    await expectFirefoxVideoFlowing(host.page);
    await reportConnected("Firefox host, Firefox guest", guest.openedAt, guest.page);
    await clickButton(guest.page, "Завершить");
    for (const page of [guest.page, host.page]) {
      await firefoxCallEnded(page);
    }
  } finally {
    await guest?.browser.close();
    await host.browser.close();
  }
});

test("a Firefox host and a Chromium guest chat: a line and a photo each way, the photo's pixels unchanged", async ({ browser, baseURL }) => {
  await withFirefoxHostCall(browser, baseURL, async (host, guest) => {
    const theirsInFirefox = (text: string) =>
      host.page.waitForFunction((text) => [...document.querySelectorAll(".chat .messages li.theirs")].some((li) => li.textContent === text), { timeout: 15_000 }, text);
    await host.page.click(".chat-control");
    await host.page.type(".chat input.line", "Привет из Firefox");
    await host.page.keyboard.press("Enter");
    await guest.page.locator(".chat-control").click();
    await expect(guest.page.locator(".chat .messages li.theirs")).toHaveText(["Привет из Firefox"]);
    await guest.page.getByLabel("Сообщение").fill("Привет из Chromium");
    await guest.page.getByLabel("Сообщение").press("Enter");
    await theirsInFirefox("Привет из Chromium");

    // Chromium → Firefox.
    const toFirefox = randomPng(640, 480);
    await guest.page.locator(".chat input[type=file]").setInputFiles({ name: "a.png", mimeType: "image/png", buffer: toFirefox.png });
    await host.page.waitForSelector(".chat .messages li.theirs img", { timeout: 30_000 });
    expect(await host.page.evaluate(lastChatPhotoPixelsInPage, "theirs")).toBe(toFirefox.pixelsSha256);

    // Firefox → Chromium: the file picked as the page's own picker would give it.
    const toChromium = randomPng(480, 640);
    await host.page.evaluate((base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const files = new DataTransfer();
      files.items.add(new File([bytes], "b.png", { type: "image/png" }));
      const input = document.querySelector<HTMLInputElement>(".chat input[type=file]")!;
      input.files = files.files;
      input.dispatchEvent(new Event("change"));
    }, toChromium.png.toString("base64"));
    await expect(guest.page.locator(".chat .messages li.theirs img")).toHaveCount(1, { timeout: 30_000 });
    expect(await guest.page.evaluate(lastChatPhotoPixelsInPage, "theirs")).toBe(toChromium.pixelsSha256);
  });
});

test("a Firefox host and a Chromium guest show the same verification words, and Firefox keeps the name it gave across a reload", async ({ browser, baseURL }) => {
  await withFirefoxHostCall(browser, baseURL, async (host, guest) => {
    const wordsIn = () => [...document.querySelectorAll(".sheet.verify .code .word")].map((w) => w.textContent);
    await guest.page.locator(".top-bar .verify").click();
    await expect(guest.page.locator(".sheet.verify .code .word")).toHaveCount(4, { timeout: 30_000 });
    const guestWords = await guest.page.evaluate(wordsIn);
    await host.page.waitForSelector(".top-bar .verify:not([hidden])", { timeout: 30_000 });
    await host.page.click(".top-bar .verify");
    await host.page.waitForFunction(() => document.querySelectorAll(".sheet.verify .code .word").length === 4);
    expect(await host.page.evaluate(wordsIn)).toEqual(guestWords);
    await clickButton(host.page, "Совпадает");
    await host.page.type(".sheet.verify input.line", "Мама");
    await clickButton(host.page, "Сохранить");
    const chip = () => document.querySelector(".top-bar .verify")?.textContent;
    await host.page.waitForFunction((c) => document.querySelector(".top-bar .verify")?.textContent === c, { timeout: 10_000 }, "Мама · проверено");
    // Firefox keeps its certificate in IndexedDB too: after a reload, the same device.
    await host.page.reload();
    await host.page.waitForSelector("html[data-hydrated]", { timeout: 30_000 });
    await host.page.waitForFunction((c) => document.querySelector(".top-bar .verify")?.textContent === c, { timeout: 30_000 }, "Мама · проверено");
    expect(await host.page.evaluate(chip)).toBe("Мама · проверено");
  });
});

test("a Firefox guest reloads mid-call and the call with Chromium comes back", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  const guest = await firefoxPerson(link);
  try {
    await expectFirefoxVideoFlowing(guest.page);
    await expectRemoteVideoFlowing(host.page);
    const started = Date.now();
    await guest.page.reload();
    await guest.page.waitForSelector("html[data-hydrated]", { timeout: 30_000 });
    await expectFirefoxVideoFlowing(guest.page, 15_000);
    await expectRemoteVideoFlowing(host.page, 15_000);
    console.log(`Firefox guest reload: call back in ${Date.now() - started} ms`);
  } finally {
    await guest.browser.close();
  }
});

// Firefox is only the muted side here: headless Firefox without a sound server never
// resumes an AudioContext, so it cannot measure what it hears (Chromium's mute heard
// as silence is the experience suite's test).
test("a Firefox host's muted microphone is silence at the Chromium guest, and sound again after", async ({ browser, baseURL }) => {
  await withFirefoxHostCall(browser, baseURL, async (host, guest) => {
    expect(await remotePeak(guest.page)).toBeGreaterThan(0.01);
    await clickButton(host.page, "Микрофон — выключить (M)");
    await guest.page.waitForTimeout(500);
    expect(await remotePeak(guest.page)).toBeLessThan(0.001);
    await clickButton(host.page, "Микрофон выкл. — включить (M)");
    await expect.poll(() => remotePeak(guest.page), { timeout: 10_000 }).toBeGreaterThan(0.01);
  });
});

test("a Firefox host reloads mid-call and keeps the same call with Chromium, and its hang-up ends it for both", async ({ browser, baseURL }) => {
  await withFirefoxHostCall(browser, baseURL, async (host, guest, link) => {
    const started = Date.now();
    await host.page.reload();
    await host.page.waitForSelector("html[data-hydrated]", { timeout: 30_000 });
    expect(host.page.url()).toBe(link);
    await expectFirefoxVideoFlowing(host.page, 15_000);
    await expectRemoteVideoFlowing(guest.page, 15_000);
    console.log(`Firefox host reload: call back in ${Date.now() - started} ms`);
    await clickButton(host.page, "Завершить");
    await firefoxCallEnded(host.page);
    await expect(guest.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
  });
});

test("in Firefox at a phone's size the home, share-link, call and end views fit the screen", async ({ browser }, testInfo) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  const guest = await firefoxPerson(link);
  const phone = await firefoxPerson(`${new URL(link).origin}/`);
  try {
    await phone.page.setViewport({ width: 360, height: 740 });
    const fits = async (page: typeof phone.page, view: string) => {
      const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      expect(scroll, `Firefox ${view} scrolls sideways`).toBeLessThanOrEqual(width);
      expect(await page.evaluate(badControlsInPage), `Firefox ${view}: every control inside the screen and reachable`).toEqual([]);
      await page.screenshot({ path: testInfo.outputPath(`firefox-${view}.png`) });
    };
    await fits(phone.page, "home");
    await clickButton(phone.page, "Позвонить");
    await phone.page.waitForSelector('::-p-aria([name="Начать звонок"][role="button"])', { visible: true });
    await fits(phone.page, "share");
    // The guest side's call view, in a call that is up, and its end view.
    await guest.page.setViewport({ width: 360, height: 740 });
    await expectFirefoxVideoFlowing(guest.page);
    await fits(guest.page, "call");
    const hangUp = await guest.page.waitForSelector('::-p-aria([name="Завершить"][role="button"])', { visible: true });
    const box = await hangUp!.boundingBox();
    expect(box!.height).toBeGreaterThanOrEqual(44);
    await clickButton(guest.page, "Завершить");
    await firefoxCallEnded(guest.page);
    await fits(guest.page, "end");
    await expect(host.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
  } finally {
    await phone.browser.close();
    await guest.browser.close();
  }
});
