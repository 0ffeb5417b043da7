import { test } from "@playwright/test";
import { closeOpened, expectRemoteVideoFlowing, person, startCallAsHost } from "./helpers";
import { clickButton, expectFirefoxVideoFlowing, firefoxPerson, shareLink } from "./firefox";

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
    await clickButton(host.page, "Позвонить");
    const link = await shareLink(host.page);
    await clickButton(host.page, "Начать звонок");
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
    await clickButton(host.page, "Позвонить");
    const link = await shareLink(host.page);
    await clickButton(host.page, "Начать звонок");
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
