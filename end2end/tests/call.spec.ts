import { test, expect, type Page } from "@playwright/test";
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
  // Each end view says how long the call ran; the host may call again, the guest leaves.
  await expect(host.page.getByRole("heading")).toHaveText(/^Звонок завершён · \d+:\d\d$/);
  await expect(guest.page.getByRole("heading")).toHaveText(/^Звонок завершён · \d+:\d\d$/);
  await expect(host.page.getByRole("button", { name: "Позвонить снова" })).toBeVisible();
  await expect(guest.page.getByRole("button", { name: "Закрыть" })).toBeVisible();
  await expect(guest.page.getByRole("button", { name: "Позвонить снова" })).toHaveCount(0);
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

test("a call link's signal socket opens while the client loads, and the client keeps it", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  await expect(host.page.getByText("Ждём собеседника…")).toBeVisible();

  const guest = await person(browser, "about:blank");
  // Before the page's scripts: when each signal socket is made, and when the client has
  // taken the page over.
  await guest.context.addInitScript(() => {
    const seen = { sockets: [] as number[], hydrated: 0 };
    (window as unknown as { __seen: typeof seen }).__seen = seen;
    const Socket = window.WebSocket;
    window.WebSocket = class extends Socket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        if (String(url).includes("/signal")) seen.sockets.push(performance.now());
      }
    };
    new MutationObserver(() => {
      if (!seen.hydrated && document.documentElement?.hasAttribute("data-hydrated")) seen.hydrated = performance.now();
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-hydrated"] });
  });
  await openHydrated(guest.page, link);
  await expectRemoteVideoFlowing(guest.page);
  const seen = await guest.page.evaluate(() => (window as unknown as { __seen: { sockets: number[]; hydrated: number } }).__seen);
  expect(seen.sockets.length, "one signal socket: the one opened early, kept by the client").toBe(1);
  expect(seen.sockets[0], "the socket is opened before the client hydrates").toBeLessThan(seen.hydrated);
});

/** Holds the wasm back `ms` (a slow phone network): the page is shown, not yet hydrated. */
async function slowWasm(page: Page, ms: number): Promise<void> {
  await page.route("**/*.wasm", async (route) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    await route.continue();
  });
}

/** Whether the client has taken the page over. */
const hydrated = (page: Page) => page.evaluate(() => document.documentElement.hasAttribute("data-hydrated"));

test("«Позвонить» tapped the moment it shows, before the client has loaded, still gives a share link", async ({ page }) => {
  await slowWasm(page, 2_000);
  await page.goto("/", { waitUntil: "commit" });
  const call = page.getByRole("button", { name: "Позвонить" });
  await call.click();
  expect(await hydrated(page), "the tap came before hydration").toBe(false);
  await expect(call, "the held tap shows on the button").toHaveClass(/pending/);
  await expect(page.locator("main[data-screen=share]")).toBeVisible({ timeout: 15_000 });
  await expect(page.getByRole("textbox")).toHaveValue(/\/\?session=[0-9a-f-]{36}$/);
  // Replayed once: one new call, not two.
  await expect(page.getByRole("button", { name: "Начать звонок" })).toHaveCount(1);
});

test("a guest's early tap on «Завершить» is replayed: the call ends", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();

  const guest = await person(browser, "about:blank");
  await slowWasm(guest.page, 2_000);
  await guest.page.goto(link, { waitUntil: "commit" });
  await guest.page.getByRole("button", { name: "Завершить" }).click();
  expect(await hydrated(guest.page), "the tap came before hydration").toBe(false);
  await expect(guest.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible({ timeout: 15_000 });
});

test("a bad link shows a page that says what is wrong", async ({ page }) => {
  await page.goto("/?session=not-a-call");
  await expect(page.locator('meta[name="description"]')).toHaveAttribute("content", "Видеозвонок по ссылке. Без регистрации и установки.");
  await expect(page.getByRole("heading", { name: "Неверная ссылка на звонок" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Позвонить снова" })).toHaveCount(0);
  // A guest's way out: the page cannot close a tab the person opened, so it goes home.
  await page.locator("html[data-hydrated]").waitFor({ state: "attached" });
  await page.getByRole("button", { name: "Закрыть" }).click();
  await expect(page.getByRole("button", { name: "Позвонить" })).toBeVisible();
});
