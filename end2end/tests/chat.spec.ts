import { test, expect, devices, Browser, Page } from "@playwright/test";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { closeOpened, expectRemoteVideoFlowing, keepDataChannels, lastChatPhotoPixelsInPage, newContext, openHydrated, printPageLog, randomPng } from "./helpers";

// The chat (issue #13): text lines and photos go straight to the other side over the
// call's own data channel, on phones, in Russian and English.

test.afterEach(closeOpened);

const WORDS = {
  "ru-RU": { call: "Позвонить", link: "Ссылка на звонок", start: "Начать звонок", chat: "Чат", close: "Закрыть чат", line: "Сообщение", send: "Отправить", photo: "Фото", newMessage: "Новое сообщение в чате", tooBig: "Фото больше 25 МБ не отправить", photoOnly: "В чат можно отправить только фото", theirs: "Фото собеседника", mine: "Ваше фото", hangUp: "Завершить" },
  "en-US": { call: "Call", link: "Call link", start: "Start call", chat: "Chat", close: "Close the chat", line: "Message", send: "Send", photo: "Photo", newMessage: "New chat message", tooBig: "A photo over 25 MB cannot be sent", photoOnly: "Only photos can be sent in the chat", theirs: "The other person’s photo", mine: "Your photo", hangUp: "Hang up" },
};
type Locale = keyof typeof WORDS;

/** A person on a phone speaking `locale`, on a hydrated page. */
async function phone(browser: Browser, locale: Locale, url: string, device = "Pixel 7"): Promise<Page> {
  const { defaultBrowserType: _, ...phoneLike } = devices[device];
  const context = await newContext(browser, { ...phoneLike, locale });
  await context.addInitScript(keepDataChannels);
  const page = await context.newPage();
  printPageLog(page);
  await openHydrated(page, url);
  return page;
}

/** A host and a guest on phones in a call, video flowing both ways. */
async function inCall(browser: Browser, locale: Locale) {
  const w = WORDS[locale];
  const host = await phone(browser, locale, "/");
  await host.getByRole("button", { name: w.call }).click();
  const link = await host.getByLabel(w.link).first().inputValue();
  await host.getByRole("button", { name: w.start }).click();
  const guest = await phone(browser, locale, link, "iPhone 13");
  await expectRemoteVideoFlowing(guest);
  await expectRemoteVideoFlowing(host);
  return { host, guest, w };
}

/**
 * The last photo in the page's chat on `side`: the SHA-256 (hex) of the file a tap on it
 * saves (the page's own download link), and the picture's width as the page decoded it.
 */
async function lastPhoto(page: Page, side: "mine" | "theirs"): Promise<{ sha256: string; width: number }> {
  const photo = page.locator(`.chat .messages li.${side} a[download]`).last();
  const width = await photo.locator("img").evaluate(async (image: HTMLImageElement) => {
    await image.decode();
    return image.naturalWidth;
  });
  const [download] = await Promise.all([page.waitForEvent("download"), photo.click()]);
  const bytes = await readFile(await download.path());
  return { sha256: createHash("sha256").update(bytes).digest("hex"), width };
}

/** `page` sends `png` from its chat; the other page shows it whole, byte for byte. */
async function sendPhoto(from: Page, to: Page, png: Buffer, width: number, w: (typeof WORDS)[Locale]): Promise<number> {
  const started = Date.now();
  await from.locator(".chat input[type=file]").setInputFiles({ name: "photo.png", mimeType: "image/png", buffer: png });
  const theirs = to.getByRole("img", { name: w.theirs });
  await expect(theirs.last()).toBeVisible({ timeout: 60_000 });
  const ms = Date.now() - started;
  const expected = createHash("sha256").update(png).digest("hex");
  expect(await lastPhoto(to, "theirs")).toEqual({ sha256: expected, width });
  // The sender's own copy shows too, its progress bar gone once every byte went.
  await expect(from.locator(".chat .messages li.mine").last().locator("progress")).toHaveCount(0, { timeout: 10_000 });
  expect(await lastPhoto(from, "mine")).toEqual({ sha256: expected, width });
  return ms;
}

test("text lines go both ways; unread messages are counted and said; typing is not a shortcut; Esc closes the chat", async ({ browser }) => {
  const { host, guest, w } = await inCall(browser, "ru-RU");
  const chatOf = (page: Page) => page.locator(".controls").getByRole("button", { name: w.chat });

  await chatOf(guest).click();
  await expect(guest.getByRole("complementary", { name: w.chat })).toBeVisible();
  // «м» and «ь» are the camera and microphone keys outside the chat.
  await guest.getByLabel(w.line).fill("");
  await guest.getByLabel(w.line).pressSequentially("Привет, мама! Видишь меня?");
  await guest.getByLabel(w.line).press("Enter");
  await expect(guest.locator(".chat .messages li.mine")).toHaveText(["Привет, мама! Видишь меня?"]);
  await expect(guest.getByLabel(w.line)).toHaveValue("");
  await expect(guest.locator(".ctl.off")).toHaveCount(0);

  // The host's chat is closed: the message is counted on its control and said.
  await expect(chatOf(host).locator(".unread")).toHaveText("1");
  await expect(host.locator(".notice")).toContainText(w.newMessage);
  await chatOf(host).click();
  await expect(host.locator(".chat .messages li.theirs")).toHaveText(["Привет, мама! Видишь меня?"]);
  await expect(host.locator(".notice")).toHaveCount(0);
  await expect(chatOf(host).locator(".unread")).toBeHidden();

  await host.getByLabel(w.line).fill("Вижу! Отправлю фото с дачи.\nВторая строка");
  await host.getByRole("button", { name: w.send }).click();
  await expect(guest.locator(".chat .messages li.theirs")).toHaveText(["Вижу! Отправлю фото с дачи.\nВторая строка"]);
  // The guest's chat is open: nothing counted.
  await expect(chatOf(guest).locator(".unread")).toBeHidden();

  // Esc closes the chat; it does not ask to hang up.
  await guest.keyboard.press("Escape");
  await expect(guest.getByRole("complementary", { name: w.chat })).toBeHidden();
  await expect(guest.locator(".notice")).toHaveCount(0);
  await expectRemoteVideoFlowing(guest, 5_000);

  // What was said goes with the call.
  await host.keyboard.press("Escape");
  await host.locator(".controls").getByRole("button", { name: w.hangUp }).click();
  for (const page of [host, guest]) await expect(page.locator(".chat")).toHaveCount(0);
});

test("a 5 MB photo goes each way whole (bytes compared), shown in the chat; too big or not a photo is refused in words", async ({ browser }) => {
  const { host, guest, w } = await inCall(browser, "en-US");
  for (const page of [host, guest]) await page.locator(".controls").getByRole("button", { name: w.chat }).click();

  const fromHost = randomPng(1280, 1366).png;
  const fromGuest = randomPng(1300, 1345).png;
  for (const png of [fromHost, fromGuest]) expect(png.length).toBeGreaterThan(5_000_000);
  const hostToGuest = await sendPhoto(host, guest, fromHost, 1280, w);
  const guestToHost = await sendPhoto(guest, host, fromGuest, 1300, w);
  console.log(`chat: 5 MB photo host → guest in ${hostToGuest} ms, guest → host in ${guestToHost} ms`);
  test.info().annotations.push({ type: "photo-ms", description: `${hostToGuest} ${guestToHost}` });
  // The call went on meanwhile.
  await expectRemoteVideoFlowing(host, 5_000);

  const input = host.locator(".chat input[type=file]");
  await input.setInputFiles({ name: "huge.jpg", mimeType: "image/jpeg", buffer: Buffer.alloc(25 * 1024 * 1024 + 1) });
  await expect(host.locator(".chat .messages li.note").last()).toHaveText(w.tooBig);
  await input.setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
  await expect(host.locator(".chat .messages li.note").last()).toHaveText(w.photoOnly);
  await expect(host.locator(".chat .messages li.mine")).toHaveCount(1);
});

test("bad messages on the chat channel are ignored and lose nothing: the next line arrives and the call goes on", async ({ browser }) => {
  const { host, guest, w } = await inCall(browser, "ru-RU");
  await guest.locator(".controls").getByRole("button", { name: w.chat }).click();
  await host.evaluate(async () => {
    const chat = (window as unknown as { __channels: RTCDataChannel[] }).__channels.find((c) => c.label === "chat" && c.readyState === "open")!;
    chat.send("x nonsense");
    chat.send("t");
    chat.send(`t${"я".repeat(2001)}`);
    chat.send("p999999999 image/png");
    chat.send("p12 text/html");
    chat.send(new Uint8Array([1, 2, 3])); // bytes with no photo announced
    chat.send("p4 image/png");
    chat.send(new Uint8Array([1, 2, 3, 4, 5])); // more than announced: the photo is dropped
    chat.send("tи это дошло");
  });
  await expect(guest.locator(".chat .messages li.theirs").last()).toHaveText(/и это дошло$/);
  // The photo that overflowed shows as not received; nothing else made an entry.
  await expect(guest.locator(".chat .messages li.theirs")).toHaveCount(2);
  await expect(guest.locator(".chat .messages li.theirs.failed")).toHaveCount(1);
  await expectRemoteVideoFlowing(guest, 5_000);
  await expectRemoteVideoFlowing(host, 5_000);
});

/**
 * In the page: what the system's share sheet does for "Share → HomeCall" (the manifest's
 * share_target): a multipart POST of the photo to /share, navigating to its answer.
 */
function shareToApp(args: { base64: string; field: string }): void {
  const form = document.createElement("form");
  form.method = "post";
  form.action = "/share";
  form.enctype = "multipart/form-data";
  const input = document.createElement("input");
  input.type = "file";
  input.name = args.field;
  const files = new DataTransfer();
  files.items.add(new File([Uint8Array.from(atob(args.base64), (c) => c.charCodeAt(0))], "dacha.png", { type: "image/png" }));
  input.files = files.files;
  form.append(input);
  document.body.append(form);
  form.submit();
}

test("Share → HomeCall: a photo shared to the installed app starts a call and goes to the chat once the guest joins", async ({ browser, baseURL }) => {
  const w = WORDS["ru-RU"];
  const manifest = await (await fetch(`${baseURL}/manifest.webmanifest`)).json();
  expect(manifest.share_target).toMatchObject({ action: "/share", method: "POST", enctype: "multipart/form-data" });
  const field: string = manifest.share_target.params.files[0].name;

  const host = await phone(browser, "ru-RU", "/");
  // The installed app's service worker controls the page (it answers the share).
  await host.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await host.reload();
  await expect.poll(() => host.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);

  const photo = randomPng(800, 600);
  await host.evaluate(shareToApp, { base64: photo.png.toString("base64"), field });
  await expect(host).toHaveURL(/\/\?session=[0-9a-f-]{36}$/);
  await expect(host.locator(".notice")).toContainText("Фото уйдёт в чат, как только собеседник подключится");
  // The photo stayed on the device: the service worker's cache gave it up to the page.
  expect(await host.evaluate(() => caches.has("shared-photo"))).toBe(false);

  const link = await host.getByLabel(w.link).first().inputValue();
  await host.getByRole("button", { name: w.start }).click();
  const guest = await phone(browser, "ru-RU", link, "iPhone 13");
  await expectRemoteVideoFlowing(guest);
  await expect(guest.locator(".chat-control .unread")).toHaveText("1", { timeout: 15_000 });
  await guest.locator(".chat-control").click();
  await expect(guest.getByRole("img", { name: w.theirs })).toBeVisible();
  expect(await guest.evaluate(lastChatPhotoPixelsInPage, "theirs")).toBe(photo.pixelsSha256);
  await host.locator(".chat-control").click();
  await expect(host.locator(".chat .messages li.mine img")).toHaveCount(1);
  await expect(host.locator(".chat .messages li.mine progress")).toHaveCount(0);
});

test("Share → HomeCall with no service worker running: the server never reads the photo, and the page says to share it again", async ({ browser }) => {
  const context = await newContext(browser, { locale: "ru-RU", serviceWorkers: "block" });
  const page = await context.newPage();
  printPageLog(page);
  await openHydrated(page, "/");
  await page.evaluate(shareToApp, { base64: randomPng(8, 8).png.toString("base64"), field: "photo" });
  await expect(page.locator(".notice")).toContainText("Фото не дошло до HomeCall: поделитесь им ещё раз");
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("button", { name: "Позвонить" })).toBeVisible();
});
