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
