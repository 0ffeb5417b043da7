import { test, expect, devices, Locator, Page } from "@playwright/test";
import { closeOpened, expectRemoteVideoFlowing, fakeShareSheet, newContext, openHydrated, person, startCallAsHost } from "./helpers";

// The call screen's states as a person sees them (issue #12): passing messages, the
// self-view with the camera off, a lost call, and Esc.

test.afterEach(closeOpened);

/** Mean brightness (0–255) of what the page shows in `element` (a screenshot, CSS included). */
async function brightness(page: Page, element: Locator): Promise<number> {
  const png = await element.screenshot();
  return page.evaluate(async (base64) => {
    const image = new Image();
    image.src = `data:image/png;base64,${base64}`;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext("2d")!;
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < pixels.length; i += 4) sum += (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
    return sum / (pixels.length / 4);
  }, png.toString("base64"));
}

/** A host and a guest in a call, video flowing both ways. */
async function inCall(browser: import("@playwright/test").Browser) {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  const guest = await person(browser, link);
  await expectRemoteVideoFlowing(guest.page);
  await expectRemoteVideoFlowing(host.page);
  return { host, guest };
}

test("copying the link confirms in its button and starts waiting; a passing message hides by itself", async ({ browser }) => {
  const { page } = await person(browser);
  await startCallAsHost(page);
  const copy = page.getByRole("button", { name: "Копировать" });
  await copy.click();
  await expect(page.getByRole("button", { name: "Скопировано ✓" }), "the button itself confirms").toBeVisible();
  await expect(page.getByRole("alert"), "no toast").toHaveCount(0);
  await expect(page.locator("section.call"), "copying was enough to start").toBeVisible();
  await expect(page.getByRole("status")).toHaveText("Ждём собеседника…");
  await expect(page.getByRole("button", { name: "Копировать" }), "and goes back to its word").toBeVisible({ timeout: 4_000 });

  await page.keyboard.press("Escape");
  const alert = page.getByRole("alert");
  await expect(alert).toBeVisible();
  await expect(alert, "gone within 4 s").toBeHidden({ timeout: 4_000 });
  await page.keyboard.press("Escape");
  await page.keyboard.press("Escape");
  await expect(page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
  await expect(alert, "a new view starts without the last one's message").toBeHidden({ timeout: 1_000 });
});

test("on a phone, «Отправить ссылку» opens the share sheet with an invitation, and sharing starts waiting", async ({ browser }) => {
  const { defaultBrowserType: _, ...phone } = devices["Pixel 7"];
  const context = await newContext(browser, { ...phone, locale: "ru-RU" });
  const page = await context.newPage();
  await page.addInitScript(fakeShareSheet);
  await openHydrated(page, "/");
  await page.getByRole("button", { name: "Позвонить" }).click();
  const link = await page.getByLabel("Ссылка на звонок").inputValue();
  await expect(page.locator("img.qr"), "a phone cannot scan its own screen").toBeHidden();
  await page.getByRole("button", { name: "Отправить ссылку" }).click();
  await expect(page.locator("section.call")).toBeVisible();
  const shared = await page.evaluate(() => (window as unknown as { __shared: ShareData[] }).__shared);
  expect(shared).toEqual([{ title: "HomeCall", text: "Позвони мне по видео в HomeCall — просто открой ссылку:", url: link }]);
  await expect(page.getByRole("status")).toHaveText("Ждём собеседника…");
});

test("a guest who comes first is told the other person has not started the call yet", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  const guest = await person(browser, link);
  await expect(guest.page.getByRole("status")).toHaveText("Ждём, когда собеседник начнёт звонок");
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  await expectRemoteVideoFlowing(guest.page);
});

test("each language's link preview: og: tags with an absolute image", async ({ request, baseURL }) => {
  const session = "123e4567-e89b-42d3-a456-426614174000";
  for (const [language, title] of [
    ["ru-RU", "Вас зовут на видеозвонок — HomeCall"],
    ["en-US", "You are invited to a video call — HomeCall"],
  ]) {
    const html = await (await request.get(`/?session=${session}`, { headers: { "Accept-Language": language } })).text();
    expect(html).toContain(`<meta property="og:title" content="${title}"`);
    expect(html).toContain(`<meta property="og:image" content="${baseURL}/icons/icon-512.png"`);
    expect(html).toMatch(/<meta property="og:description" content="[^"]+"/);
  }
  const home = await (await request.get("/", { headers: { "Accept-Language": "en-US" } })).text();
  expect(home).toContain('<meta property="og:title" content="HomeCall"');
  expect(home).toContain('<meta property="og:description" content="Video calls by link. No sign-up, nothing to install."');
});

test("Esc asks first: one press asks (and the question goes), a second one while asked ends the call", async ({ browser }) => {
  const { host, guest } = await inCall(browser);
  await host.page.keyboard.press("Escape");
  await expect(host.page.getByRole("alert")).toHaveText("Нажмите Esc ещё раз, чтобы завершить звонок");
  await expect(host.page.getByRole("alert")).toBeHidden({ timeout: 4_000 });
  await host.page.keyboard.press("Escape");
  await expect(host.page.locator("section.call")).toHaveAttribute("data-phase", "in-call");
  await host.page.keyboard.press("Escape");
  await expect(host.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
  await expect(guest.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
});

test("with the camera off the self-view goes dark, and lights up again with it", async ({ browser }) => {
  const { host } = await inCall(browser);
  const page = host.page;
  const self = page.locator("video.local");
  await expect.poll(() => brightness(page, self), { message: "the camera shows" }).toBeGreaterThan(40);
  await page.getByRole("button", { name: /^Камера — выключить/ }).click();
  await expect.poll(() => brightness(page, self), { message: "dark with the camera off" }).toBeLessThan(8);
  await page.getByRole("button", { name: /^Камера выкл\. — включить/ }).click();
  await expect.poll(() => brightness(page, self), { message: "the camera shows again" }).toBeGreaterThan(40);
});

test("a lost call dims the last frame, hides the quality badge, and later says the other person may have left", async ({ browser }) => {
  test.setTimeout(120_000);
  const { host, guest } = await inCall(browser);
  const call = host.page.locator("section.call");
  await expect(host.page.locator(".quality")).toBeVisible({ timeout: 10_000 });
  const lit = await brightness(host.page, host.page.locator("video.remote"));

  // The guest's browser goes away without hanging up (a dead phone).
  await guest.context.close();
  await expect(call).toHaveAttribute("data-phase", "reconnecting", { timeout: 20_000 });
  await expect(host.page.getByRole("status")).toHaveText("Связь прервалась… Переподключение");
  await expect(host.page.locator(".quality")).toHaveCount(0);
  expect(await brightness(host.page, host.page.locator("video.remote")), "the frozen frame is dimmed").toBeLessThan(lit * 0.7);
  await expect(host.page.getByRole("status")).toHaveText(/возможно, собеседник ушёл/, { timeout: 40_000 });
});

test("the host's own link opened in another tab says so, and never takes the guest's seat", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);

  // A second tab of the same browser (the host checking the link it is about to send).
  const second = await host.context.newPage();
  await second.addInitScript(() => {
    const opened: string[] = [];
    (window as unknown as { __sockets: string[] }).__sockets = opened;
    const Socket = window.WebSocket;
    window.WebSocket = class extends Socket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        opened.push(String(url));
      }
    };
  });
  await second.goto(link);
  await expect(second.getByRole("heading", { name: "Это ваша ссылка — отправьте её собеседнику" })).toBeVisible();
  await expect(second.getByLabel("Ссылка на звонок")).toHaveValue(link);
  const sockets = await second.evaluate(() => (window as unknown as { __sockets: string[] }).__sockets);
  expect(sockets.filter((url) => url.includes("/signal")), "no signal socket: the seat stays free").toEqual([]);

  // The real guest still gets the seat, and the call connects with the host's first tab.
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  const guest = await person(browser, link);
  await expectRemoteVideoFlowing(guest.page);
  await expectRemoteVideoFlowing(host.page);
});

test("each side sees when the other turns its camera or microphone off, and on again", async ({ browser }) => {
  const { host, guest } = await inCall(browser);
  const cameraOff = host.page.getByText("Камера собеседника выключена");
  const micOff = host.page.getByText("Микрофон собеседника выключен");
  await expect(cameraOff).toHaveCount(0);
  await expect(micOff).toHaveCount(0);

  await guest.page.getByRole("button", { name: /^Камера — выключить/ }).click();
  await expect(cameraOff).toBeVisible();
  await guest.page.getByRole("button", { name: /^Микрофон — выключить/ }).click();
  await expect(micOff).toBeVisible();

  await guest.page.getByRole("button", { name: /^Камера выкл\. — включить/ }).click();
  await expect(cameraOff).toHaveCount(0);
  await guest.page.getByRole("button", { name: /^Микрофон выкл\. — включить/ }).click();
  await expect(micOff).toHaveCount(0);
  // The other way too.
  await host.page.getByRole("button", { name: /^Камера — выключить/ }).click();
  await expect(guest.page.getByText("Камера собеседника выключена")).toBeVisible();
});

test("each new view puts the keyboard at its start: the heading or the main control", async ({ browser }) => {
  const { page } = await person(browser);
  await page.getByRole("button", { name: "Позвонить" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Ссылка на звонок" })).toBeFocused();
  await page.getByRole("button", { name: "Начать звонок" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("button", { name: /^Микрофон — выключить/ })).toBeFocused();
  await page.getByRole("button", { name: "Завершить" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Звонок завершён" })).toBeFocused();
});

test("the other side's video is shown whole and a tap fills the screen; the self-view is dragged to a corner or tapped on", async ({ browser }) => {
  const { host } = await inCall(browser);
  const page = host.page;
  const remote = page.locator("video.remote");
  const fit = () => remote.evaluate((v) => getComputedStyle(v).objectFit);
  expect(await fit(), "a face is never cut").toBe("contain");
  await remote.click({ position: { x: 20, y: 20 } });
  expect(await fit(), "a tap fills the screen").toBe("cover");
  await remote.click({ position: { x: 20, y: 20 } });
  expect(await fit()).toBe("contain");

  const self = page.locator(".self");
  await expect(self).toHaveAttribute("data-corner", "tr");
  const stage = (await page.locator(".stage").boundingBox())!;
  const from = (await self.boundingBox())!;
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(stage.x + 40, stage.y + stage.height - 40, { steps: 8 });
  await page.mouse.up();
  await expect(self, "dropped near the bottom left").toHaveAttribute("data-corner", "bl");
  const landed = (await self.boundingBox())!;
  expect(landed.x).toBeLessThan(stage.x + 20);
  expect(landed.y + landed.height).toBeGreaterThan(stage.y + stage.height - 20);
  await self.click();
  await expect(self, "a tap moves it on, clockwise").toHaveAttribute("data-corner", "tl");
});
