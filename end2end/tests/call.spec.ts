import { test, expect } from "@playwright/test";
import { closeOpened, expectRemoteVideoFlowing, openHydrated, person, startCallAsHost } from "./helpers";

test.afterEach(closeOpened);

test("two people call each other by link, and hang-up ends it for both", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  await expect(host.page.locator("section.call")).toBeVisible();

  const guest = await person(browser, "about:blank");
  const navigated = Date.now();
  await openHydrated(guest.page, link);
  await expectRemoteVideoFlowing(guest.page);
  const toVideo = Date.now() - navigated;
  console.log(`guest navigation to remote video flowing: ${toVideo} ms`);
  test.info().annotations.push({ type: "guest-navigation-to-video-ms", description: String(toVideo) });
  await expectRemoteVideoFlowing(host.page);
  await expect(host.page.locator("section.call")).toHaveAttribute("data-phase", "in-call");
  await expect(guest.page.locator("section.call")).toHaveAttribute("data-phase", "in-call");

  await host.page.getByRole("button", { name: "Завершить" }).click();
  await expect(host.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
  await expect(guest.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
  await expect(guest.page.getByText("Собеседник завершил звонок.")).toBeVisible();
  await host.context.close();
  await guest.context.close();
});

test("the offer waits in the hub until the guest opens the link later", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  await expect(host.page.getByText("Ждём собеседника…")).toBeVisible();
  // Long enough for the host's offer and all its candidates to sit in the hub's queue.
  await host.page.waitForTimeout(4_000);

  const guest = await person(browser, link);
  await expectRemoteVideoFlowing(guest.page);
  await expectRemoteVideoFlowing(host.page);

  await guest.page.getByRole("button", { name: "Завершить" }).click();
  await expect(guest.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
  await expect(host.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
  await host.context.close();
  await guest.context.close();
});

test("a bad link shows a page that says what is wrong", async ({ page }) => {
  await page.goto("/?session=not-a-call");
  await expect(page.locator('meta[name="description"]')).toHaveAttribute("content", "Видеозвонок по ссылке. Без регистрации и установки.");
  await expect(page.getByRole("heading", { name: "Неверная ссылка на звонок" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Позвонить снова" })).toBeVisible();
});
