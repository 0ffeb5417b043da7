import { test, expect, chromium, Page } from "@playwright/test";
import os from "node:os";
import fs from "node:fs";
import path from "node:path";
import { closeOpened, expectRemoteVideoFlowing, newContext, openHydrated, person, startCallAsHost } from "./helpers";
import { OwnServer } from "./server";

test.afterEach(closeOpened);

/** Waits until a service worker controls `page` (registering takes one load, control the next). */
async function controlledAfterReload(page: Page): Promise<void> {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.reload();
  await page.locator("html[data-hydrated]").waitFor({ state: "attached" });
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
}

/** The names of the page's Cache Storage caches. */
function cacheNames(page: Page): Promise<string[]> {
  return page.evaluate(() => caches.keys());
}

test("the home page is installable and the manifest's icons load", async ({ baseURL }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "homecall-install-"));
  const use = test.info().project.use;
  const context = await chromium.launchPersistentContext(dir, {
    ...use.launchOptions,
    locale: "ru-RU",
  });
  try {
    const page = await context.newPage();
    await openHydrated(page, `${baseURL}/`);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
    expect(installabilityErrors).toEqual([]);

    const response = await page.request.get(`${baseURL}/manifest.webmanifest`);
    expect(response.headers()["content-type"]).toBe("application/manifest+json");
    const manifest = await response.json();
    expect(manifest).toMatchObject({
      name: expect.any(String),
      short_name: "HomeCall",
      lang: "ru",
      start_url: "/",
      scope: "/",
      id: "/",
      display: "standalone",
    });
    const purposes = manifest.icons.map((i) => i.purpose);
    expect(purposes).toContain("maskable");
    for (const image of [...manifest.icons, ...manifest.screenshots]) {
      const file = await page.request.get(`${baseURL}${image.src}`);
      expect(file.status(), image.src).toBe(200);
      expect(file.headers()["content-type"]).toBe(image.type);
    }
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the service worker controls the page and serves the build's assets from its cache", async ({ browser }) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  let firstBytes = 0;
  page.on("requestfinished", async (request) => {
    const sizes = await request.sizes().catch(() => null);
    if (sizes) firstBytes += sizes.responseBodySize + sizes.responseHeadersSize;
  });
  await openHydrated(page, "/");
  await page.waitForLoadState("networkidle");
  const firstVisit = firstBytes;

  const fromWorker = new Map<string, boolean>();
  page.on("response", (response) => fromWorker.set(new URL(response.url()).pathname, response.fromServiceWorker()));
  await controlledAfterReload(page);
  // Third load: everything the worker precached comes from its cache.
  fromWorker.clear();
  let repeatBytes = 0;
  page.removeAllListeners("requestfinished");
  page.on("requestfinished", async (request) => {
    const response = await request.response();
    if (response && response.fromServiceWorker()) return;
    const sizes = await request.sizes().catch(() => null);
    if (sizes) repeatBytes += sizes.responseBodySize + sizes.responseHeadersSize;
  });
  await page.reload();
  await page.locator("html[data-hydrated]").waitFor({ state: "attached" });
  await page.waitForLoadState("networkidle");
  // The build's assets carry their content hash in their names, and come from the cache.
  for (const ext of ["wasm", "js", "css"]) {
    const asset = [...fromWorker.keys()].find((p) => new RegExp(`^/pkg/homecall\\.[^.]+\\.${ext}$`).test(p));
    expect(asset, `hashed .${ext} asset loaded`).toBeDefined();
    expect(fromWorker.get(asset!), asset).toBe(true);
  }
  // Pages are network-first: each load is a fresh render, with a fresh nonce.
  const nonce = () => page.evaluate(() => (document.querySelector("script[nonce]") as HTMLScriptElement).nonce);
  const seen = await nonce();
  await page.reload();
  await page.locator("html[data-hydrated]").waitFor({ state: "attached" });
  expect(await nonce()).not.toBe(seen);
  console.log(`home page transfer: first visit ${firstVisit} bytes, repeat visit ${repeatBytes} bytes`);
  test.info().annotations.push({ type: "transfer-bytes", description: `first ${firstVisit}, repeat ${repeatBytes}` });

  const names = await cacheNames(page);
  expect(names).toHaveLength(1);
  expect(names[0]).toMatch(/^homecall-[0-9a-f]{12}$/);

  // Never intercepted: the signal hub, metrics, API calls.
  for (const url of ["/api/config", "/metrics", "/healthz", "/signal"]) {
    const seen = page.waitForResponse((r) => new URL(r.url()).pathname === url);
    await page.evaluate((u) => fetch(u).catch(() => null), url);
    expect((await seen).fromServiceWorker(), url).toBe(false);
  }
});

test("with no network a page shows the offline page", async ({ browser }) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await openHydrated(page, "/");
  await controlledAfterReload(page);
  await context.setOffline(true);
  await page.goto("/?session=123e4567-e89b-42d3-a456-426614174000").catch(() => {});
  await expect(page.getByRole("heading", { name: "Нет соединения с интернетом" })).toBeVisible();
  await context.setOffline(false);
});

test("a new version replaces old caches, reloads idle pages and waits for calls to end", async ({ browser }) => {
  const server = new OwnServer(3103, { HOMECALL_BUILD_ID: "e2e-v1" });
  await server.start();
  try {
    const idle = await person(browser, `${server.url}/`);
    await controlledAfterReload(idle.page);
    expect(await cacheNames(idle.page)).toEqual(["homecall-e2e-v1"]);

    const host = await person(browser, `${server.url}/`);
    await controlledAfterReload(host.page);
    const link = await startCallAsHost(host.page);
    await host.page.getByRole("button", { name: "Начать звонок" }).click();
    const guest = await person(browser, link);
    await expectRemoteVideoFlowing(host.page);

    await idle.page.evaluate(() => ((window as any).__before_update = true));
    await server.stop();
    server.env.HOMECALL_BUILD_ID = "e2e-v2";
    await server.start();
    await idle.page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r?.update()));

    // The idle page reloads into the new version; the old cache is gone.
    await expect.poll(() => idle.page.evaluate(() => (window as any).__before_update === true).catch(() => true), { timeout: 20_000 }).toBe(false);
    await idle.page.locator("html[data-hydrated]").waitFor({ state: "attached" });
    await expect.poll(() => cacheNames(idle.page), { timeout: 10_000 }).toEqual(["homecall-e2e-v2"]);

    // Each browser context has its own registration: the host's browser checks for the
    // update too (browsers do on navigation and periodically).
    await host.page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r?.update()));
    // The page in a call keeps its call and is told an update waits.
    await expect(host.page.getByRole("alert")).toContainText("Доступно обновление");
    await expect(host.page.locator("section.call")).toHaveAttribute("data-phase", "in-call");
    await expectRemoteVideoFlowing(host.page);

    // After hang-up it loads the new version.
    await host.page.evaluate(() => ((window as any).__before_update = true));
    await host.page.getByRole("button", { name: "Завершить" }).click();
    await expect.poll(() => host.page.evaluate(() => (window as any).__before_update === true).catch(() => true), { timeout: 20_000 }).toBe(false);
    await host.page.locator("html[data-hydrated]").waitFor({ state: "attached" });
    await expect(host.page.getByRole("button", { name: "Позвонить" })).toBeVisible();
    // Nothing of the ended call stays in the tab's storage.
    expect(await host.page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith("homecall:")))).toEqual([]);
  } finally {
    await server.stop();
  }
});
