import { test, expect, Page } from "@playwright/test";
import { closeOpened, expectRemoteVideoFlowing, openHydrated, person, startCallAsHost } from "./helpers";
import { OwnServer } from "./server";

test.afterEach(closeOpened);

/** A connected call between two people; returns both pages. */
async function connectedCall(browser, base = "") {
  const host = await person(browser, `${base}/`);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  const guest = await person(browser, link);
  await expectRemoteVideoFlowing(guest.page);
  await expectRemoteVideoFlowing(host.page);
  return { host, guest, link };
}

async function expectBackInCall(pages: Page[], started: number, what: string) {
  for (const page of pages) {
    await expect(page.locator("section.call")).toHaveAttribute("data-phase", "in-call", { timeout: 10_000 });
  }
  for (const page of pages) await expectRemoteVideoFlowing(page, 10_000);
  const ms = Date.now() - started;
  console.log(`${what}: call back in ${ms} ms`);
  test.info().annotations.push({ type: `reconnect-ms:${what}`, description: String(ms) });
  expect(ms).toBeLessThan(12_000);
}

test("the guest reloads mid-call and the call comes back by itself", async ({ browser }) => {
  const { host, guest } = await connectedCall(browser);
  const started = Date.now();
  await guest.page.reload();
  await guest.page.locator("html[data-hydrated]").waitFor({ state: "attached" });
  await expectBackInCall([guest.page, host.page], started, "guest reload");
});

test("the host reloads mid-call and keeps the same call", async ({ browser }) => {
  const { host, guest, link } = await connectedCall(browser);
  const started = Date.now();
  await host.page.reload();
  await host.page.locator("html[data-hydrated]").waitFor({ state: "attached" });
  expect(host.page.url()).toBe(link);
  await expectBackInCall([host.page, guest.page], started, "host reload");
});

test("the network drops for a few seconds and the call comes back", async ({ browser }) => {
  const { host, guest } = await connectedCall(browser);
  await guest.context.setOffline(true);
  await guest.page.waitForTimeout(3_000);
  const started = Date.now();
  await guest.context.setOffline(false);
  await expectBackInCall([guest.page, host.page], started, "network cut");
});

test("the hub restarts mid-call and the call goes on", async ({ browser }) => {
  const server = new OwnServer(3101);
  await server.start();
  try {
    const { host, guest } = await connectedCall(browser, server.url);
    const started = Date.now();
    await server.restart();
    await expectBackInCall([host.page, guest.page], started, "hub restart");
    // Signalling works again after the restart: a reload renegotiates through the new hub.
    const again = Date.now();
    await guest.page.reload();
    await expectBackInCall([guest.page, host.page], again, "reload after hub restart");
  } finally {
    await server.stop();
  }
});

test("a third person on a busy link is told the call is taken", async ({ browser }) => {
  const { link } = await connectedCall(browser);
  const third = await person(browser, link);
  await expect(third.page.getByRole("heading", { name: "Этот звонок уже занят" })).toBeVisible();
  await expect(third.page.getByText("Попросите собеседника прислать новую ссылку")).toBeVisible();
});

test("a link of a finished call says the call has ended, and offers only a way out", async ({ browser }) => {
  const { host, guest, link } = await connectedCall(browser);
  await guest.page.getByRole("button", { name: "Завершить" }).click();
  await expect(host.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
  const late = await person(browser, link);
  await expect(late.page.getByRole("heading", { name: "Этот звонок уже завершён" })).toBeVisible();
  await expect(late.page.getByRole("button", { name: "Закрыть" })).toBeVisible();
  await expect(late.page.getByRole("button", { name: "Позвонить снова" })).toHaveCount(0);
});

test("an unreachable hub is said so, and the page connects once it is back", async ({ browser }) => {
  const server = new OwnServer(3104);
  await server.start();
  try {
    const host = await person(browser, `${server.url}/`);
    await startCallAsHost(host.page);
    await host.page.getByRole("button", { name: "Начать звонок" }).click();
    await expect(host.page.getByText("Ждём собеседника…")).toBeVisible();
    await server.stop();
    await expect(host.page.getByRole("alert")).toContainText("Нет связи с сервером звонков", { timeout: 15_000 });
    await server.start();
    await expect(host.page.getByRole("alert")).toHaveCount(0, { timeout: 15_000 });
  } finally {
    await server.stop();
  }
});
