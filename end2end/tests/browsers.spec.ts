import { test, expect } from "@playwright/test";
import { closeOpened, expectRemoteVideoFlowing, person, remotePeak, startCallAsHost } from "./helpers";
import { clickButton, expectFirefoxVideoFlowing, firefoxPerson, startCallAsFirefoxHost } from "./firefox";

// Chromium (Playwright) and Firefox ESR (Puppeteer) call each other: video both ways.
test.afterEach(closeOpened);

test("a Chromium host and a Firefox guest see each other", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  const guest = await firefoxPerson(link);
  try {
    await expectFirefoxVideoFlowing(guest.page);
    await expectRemoteVideoFlowing(host.page);
  } finally {
    await guest.browser.close();
  }
});

test("a Firefox host and a Chromium guest see each other", async ({ browser, baseURL }) => {
  const host = await firefoxPerson(`${baseURL}/`);
  try {
    const link = await startCallAsFirefoxHost(host.page);
    const guest = await person(browser, link);
    await expectRemoteVideoFlowing(guest.page);
    await expectFirefoxVideoFlowing(host.page);
  } finally {
    await host.browser.close();
  }
});

test("two Firefox pages call each other, and the guest's hang-up ends it for both", async ({ baseURL }) => {
  const host = await firefoxPerson(`${baseURL}/`);
  let guest: Awaited<ReturnType<typeof firefoxPerson>> | undefined;
  try {
    const link = await startCallAsFirefoxHost(host.page);
    guest = await firefoxPerson(link);
    await expectFirefoxVideoFlowing(guest.page);
    await expectFirefoxVideoFlowing(host.page);
    await clickButton(guest.page, "Завершить");
    for (const page of [guest.page, host.page]) {
      await page.waitForSelector("::-p-aria([name=\"Звонок завершён\"][role=\"heading\"])", { timeout: 15_000 });
    }
  } finally {
    await guest?.browser.close();
    await host.browser.close();
  }
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
  const host = await firefoxPerson(`${baseURL}/`);
  try {
    const link = await startCallAsFirefoxHost(host.page);
    const guest = await person(browser, link);
    await expectRemoteVideoFlowing(guest.page);
    await expectFirefoxVideoFlowing(host.page);
    expect(await remotePeak(guest.page)).toBeGreaterThan(0.01);
    await clickButton(host.page, "Выключить микрофон (M)");
    await guest.page.waitForTimeout(500);
    expect(await remotePeak(guest.page)).toBeLessThan(0.001);
    await clickButton(host.page, "Включить микрофон (M)");
    await expect.poll(() => remotePeak(guest.page), { timeout: 10_000 }).toBeGreaterThan(0.01);
  } finally {
    await host.browser.close();
  }
});
