import { test, expect, devices, Browser, BrowserContext, Page } from "@playwright/test";
import { closeOpened, expectRemoteVideoFlowing, keepDataChannels, newContext, openHydrated, printPageLog } from "./helpers";

// Verified contact (issue #13): each device keeps one certificate, so its DTLS fingerprint
// is stable; the two sides run a commit-then-reveal exchange over a data channel and show
// four words derived from both fingerprints and both random values; «Совпадает» keeps the
// other device under a name, shown on the next call; a server in the middle cannot make
// the words agree, and a verified contact reached through it is warned about.

test.afterEach(closeOpened);

const WORDS = {
  "ru-RU": { call: "Позвонить", link: "Ссылка на звонок", start: "Начать звонок", hangUp: "Завершить", check: "Проверить собеседника", same: "Совпадает", differ: "Не совпадает", name: "Кто это? Имя останется только на этом устройстве", save: "Сохранить", verified: "проверено", verifiedAs: "Проверено: это", close: "Закрыть проверку", warn: "⚠ Проверьте", replace: "Заменить", nameTaken: "Под этим именем уже проверено другое устройство. «Заменить» — если у человека новый телефон.", otherDevice: "устройство не то, что вы проверили как", differSaid: "Слова не совпали", broken: "Проверка не удалась" },
  "en-US": { call: "Call", link: "Call link", start: "Start call", hangUp: "Hang up", check: "Verify the other person", same: "They match", differ: "They differ", name: "Who is it? The name stays on this device only", save: "Save", verified: "verified", verifiedAs: "Verified: this is", close: "Close verification", warn: "⚠ Check who it is", replace: "Replace", nameTaken: "Another device is verified under this name. Choose “Replace” if they have a new phone.", otherDevice: "not the device you verified as", differSaid: "The words differ", broken: "Verification failed" },
};
type Locale = keyof typeof WORDS;

/** One person's phone: a browser context whose storage (the certificate, the names) lasts across their calls. */
interface Phone {
  context: BrowserContext;
  locale: Locale;
  /** The fingerprint lines of every offer and answer this phone's pages sent, in order. */
  sentFingerprints: string[];
  /** The "hub" rewrites the fingerprint line of what this phone sends (its first byte changed). */
  tamper?: boolean;
}

/**
 * A phone speaking `locale`. Its signal sockets go through the test (Playwright's
 * WebSocket routing), which notes the fingerprint of every description it sends.
 */
async function phone(browser: Browser, locale: Locale, device: string): Promise<Phone> {
  const { defaultBrowserType: _, ...phoneLike } = devices[device];
  const context = await newContext(browser, { ...phoneLike, locale });
  const me: Phone = { context, locale, sentFingerprints: [] };
  await context.routeWebSocket(/\/signal/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      const text = message.toString();
      const fingerprint = /a=fingerprint:([^\\\r\n]+)/.exec(text);
      if (fingerprint && /"type":"(offer|answer)"/.test(text)) me.sentFingerprints.push(fingerprint[1]);
      server.send(me.tamper ? text.replace(/(a=fingerprint:sha-256 )([0-9A-F]{2})/g, (_, line, byte) => line + (byte === "00" ? "01" : "00")) : message);
    });
  });
  return me;
}

async function open(me: Phone, url: string): Promise<Page> {
  const page = await me.context.newPage();
  printPageLog(page);
  await openHydrated(page, url);
  return page;
}

/** `host` presses «Позвонить» and «Начать звонок»; the link. */
async function host(page: Page, locale: Locale): Promise<string> {
  const w = WORDS[locale];
  await page.getByRole("button", { name: w.call }).click();
  const link = await page.getByLabel(w.link).first().inputValue();
  await page.getByRole("button", { name: w.start }).click();
  return link;
}

/** The four words `page` shows, read from its sheet (opened and closed again). */
async function code(page: Page, locale: Locale): Promise<string[]> {
  const w = WORDS[locale];
  const chip = page.locator(".top-bar .verify");
  await expect(chip).toBeVisible({ timeout: 30_000 });
  await chip.click();
  const words = page.locator(".sheet.verify .code .word");
  await expect(words).toHaveCount(4);
  const read = await words.allTextContents();
  await page.getByRole("button", { name: w.close }).click();
  return read;
}

/** On `page`: «Совпадает», the name, «Сохранить»; the chip then says the name. */
async function confirm(page: Page, locale: Locale, name: string): Promise<void> {
  const w = WORDS[locale];
  await page.locator(".top-bar .verify").click();
  await page.getByRole("button", { name: w.same, exact: true }).click();
  await page.getByLabel(w.name).fill(name);
  await page.getByRole("button", { name: w.save }).click();
  await expect(page.locator(".sheet.verify .standing")).toHaveText(`${w.verifiedAs} ${name}.`);
  await page.getByRole("button", { name: w.close }).click();
  await expect(page.locator(".top-bar .verify")).toHaveText(`${name} · ${w.verified}`);
}

/** Sends `text` on the page's last verification channel (kept by `keepDataChannels`). */
async function sendOnVerifyChannel(page: Page, text: string): Promise<void> {
  await page.evaluate((t) => {
    const channels = (window as unknown as { __channels: RTCDataChannel[] }).__channels;
    channels.filter((c) => c.label === "verify").at(-1)!.send(t);
  }, text);
}

test("both phones show the same four words; the name given stays for the next call, the fingerprint across calls and reloads; a broken exchange is said", async ({ browser }) => {
  test.setTimeout(150_000);
  const locale: Locale = "ru-RU";
  const w = WORDS[locale];
  const grandson = await phone(browser, locale, "Pixel 7");
  const granny = await phone(browser, locale, "iPhone 13");
  await granny.context.addInitScript(keepDataChannels);

  // The first call: the same words on both phones, and each keeps the other under a name.
  const hostPage = await open(grandson, "/");
  const link = await host(hostPage, locale);
  const guestPage = await open(granny, link);
  await expectRemoteVideoFlowing(guestPage);
  await expect(hostPage.locator(".top-bar .verify")).toHaveText(w.check, { timeout: 30_000 });
  await expect(guestPage.locator(".top-bar .verify")).toHaveText(w.check);
  const hostWords = await code(hostPage, locale);
  const guestWords = await code(guestPage, locale);
  console.log(`code: ${hostWords.join(" ")}`);
  expect(guestWords).toEqual(hostWords);
  await confirm(hostPage, locale, "Бабушка");
  await confirm(guestPage, locale, "Внук");
  const firstFingerprints = [grandson.sentFingerprints.at(-1), granny.sentFingerprints.at(-1)];
  expect(firstFingerprints.every(Boolean)).toBe(true);
  await hostPage.getByRole("button", { name: w.hangUp }).click();
  await guestPage.close();

  // The next call, from new pages of the same phones: the names show, with nothing pressed.
  await hostPage.goto("/");
  const nextLink = await host(hostPage, locale);
  expect(nextLink).not.toBe(link);
  const nextGuest = await open(granny, nextLink);
  await expect(hostPage.locator(".top-bar .verify")).toHaveText(`Бабушка · ${w.verified}`, { timeout: 30_000 });
  await expect(nextGuest.locator(".top-bar .verify")).toHaveText(`Внук · ${w.verified}`);
  expect([grandson.sentFingerprints.at(-1), granny.sentFingerprints.at(-1)]).toEqual(firstFingerprints);

  // A reload makes a new peer connection with the same certificate: still verified.
  const sentBefore = granny.sentFingerprints.length;
  await nextGuest.reload();
  await expect(nextGuest.locator("html[data-hydrated]")).toBeAttached({ timeout: 30_000 });
  await expect(nextGuest.locator(".top-bar .verify")).toHaveText(`Внук · ${w.verified}`, { timeout: 30_000 });
  expect(granny.sentFingerprints.length).toBeGreaterThan(sentBefore);
  expect(granny.sentFingerprints.at(-1)).toBe(firstFingerprints[1]);
  await expectRemoteVideoFlowing(hostPage);

  // Nonsense on the channel changes nothing; a second, different commitment breaks the
  // exchange, which the other phone says (and the call goes on).
  await sendOnVerifyChannel(nextGuest, "hello");
  await sendOnVerifyChannel(nextGuest, `k${"0".repeat(63)}`);
  await hostPage.waitForTimeout(500);
  await expect(hostPage.locator(".top-bar .verify")).toHaveText(`Бабушка · ${w.verified}`);
  await sendOnVerifyChannel(nextGuest, `c${"0".repeat(64)}`);
  await expect(hostPage.locator(".top-bar .verify")).toHaveText(w.warn);
  await hostPage.locator(".top-bar .verify").click();
  await expect(hostPage.locator(".sheet.verify .standing")).toContainText(w.broken);
  await expectRemoteVideoFlowing(hostPage);
});

/** In `page`: keeps a new certificate with `days` to live as the app's `key` (the app's own IndexedDB store). */
async function putCertificate(page: Page, key: string, days: number): Promise<void> {
  await page.evaluate(
    async ({ key, days }) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open("homecall", 1);
        request.onupgradeneeded = () => request.result.createObjectStore("device");
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const algorithm = { name: "ECDSA", namedCurve: "P-256", expires: days * 864e5 };
      const certificate = await RTCPeerConnection.generateCertificate(algorithm as AlgorithmIdentifier);
      await new Promise((resolve, reject) => {
        const tx = db.transaction("device", "readwrite");
        tx.objectStore("device").put(certificate, key);
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
      db.close();
    },
    { key, days },
  );
}

/** In `page`: the verified contacts the app keeps (its text: fingerprint, secret, name, successor). */
async function keptContacts(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open("homecall", 1);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const text = await new Promise<string>((resolve, reject) => {
      const request = db.transaction("device").objectStore("device").get("contacts");
      request.onsuccess = () => resolve(String(request.result ?? ""));
      request.onerror = () => reject(request.error);
    });
    db.close();
    return text;
  });
}

test("a certificate near its end gives way to the one it announced to its verified contacts, who still know it", async ({ browser }) => {
  test.setTimeout(150_000);
  const locale: Locale = "ru-RU";
  const w = WORDS[locale];
  const grandson = await phone(browser, locale, "Pixel 7");
  const granny = await phone(browser, locale, "iPhone 13");
  const hostPage = await open(grandson, "/");
  // Two months left: the phone makes its next certificate and announces it in calls.
  await putCertificate(hostPage, "certificate", 45);
  const link = await host(hostPage, locale);
  const guestPage = await open(granny, link);
  expect(await code(guestPage, locale)).toEqual(await code(hostPage, locale));
  await confirm(hostPage, locale, "Бабушка");
  await confirm(guestPage, locale, "Внук");
  // Granny keeps, with the grandson's phone, the (hashed) fingerprint it will use next.
  await expect.poll(() => keptContacts(guestPage), { timeout: 10_000 }).toMatch(/\tВнук\t[0-9a-f]{64}\n$/);
  const old = grandson.sentFingerprints.at(-1)!;
  await hostPage.getByRole("button", { name: w.hangUp }).click();
  await guestPage.close();

  // A month on (a certificate with 20 days left stands in for the old one): the next
  // call uses the announced one, and both phones still say who is on the other end.
  await putCertificate(hostPage, "certificate", 20);
  await hostPage.goto("/");
  const nextLink = await host(hostPage, locale);
  const nextGuest = await open(granny, nextLink);
  await expect(nextGuest.locator(".top-bar .verify")).toHaveText(`Внук · ${w.verified}`, { timeout: 30_000 });
  await expect(hostPage.locator(".top-bar .verify")).toHaveText(`Бабушка · ${w.verified}`);
  const renewed = grandson.sentFingerprints.at(-1)!;
  expect(renewed).not.toBe(old);
  // Granny now keeps the phone under its new fingerprint, with no successor pending.
  const kept = await keptContacts(nextGuest);
  expect(kept.toUpperCase()).toContain(renewed.toUpperCase());
  expect(kept).toMatch(/\tВнук\t\n$/);
});

/**
 * In a page of the man in the middle, before its scripts: its own verification messages
 * go nowhere, what comes on its verification channel goes to `window.__relay` (the test
 * hands it to the other page of the middle), and `window.__inject` sends a message on,
 * holding it until the channel is open.
 */
function relayVerifyChannel(): void {
  const held: string[] = [];
  const win = window as unknown as { __inject: (m: string) => void; __relay: (m: string) => Promise<void>; __channel?: RTCDataChannel & { __send?: (m: string) => void } };
  win.__inject = (message: string) => {
    const channel = win.__channel;
    if (channel?.readyState === "open") channel.__send!(message);
    else held.push(message);
  };
  const original = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (this: RTCPeerConnection, ...args: Parameters<typeof original>) {
    const channel = original.apply(this, args) as RTCDataChannel & { __send?: (m: string) => void };
    if (channel.label !== "verify") return channel;
    const send = channel.send.bind(channel) as (m: string) => void;
    channel.__send = send;
    channel.send = () => {};
    channel.addEventListener("open", () => held.splice(0).forEach(send));
    channel.addEventListener("message", (event) => void win.__relay(String(event.data)));
    win.__channel = channel;
    return channel;
  };
}

test("a server in the middle: the words differ, a verified contact reached through it is warned about, and «They differ» says what to do", async ({ browser }) => {
  test.setTimeout(180_000);
  const locale: Locale = "en-US";
  const w = WORDS[locale];
  const son = await phone(browser, locale, "Pixel 7");
  const mum = await phone(browser, locale, "iPhone 13");

  // They verified each other in an earlier call.
  const sonPage = await open(son, "/");
  const firstLink = await host(sonPage, locale);
  const mumPage = await open(mum, firstLink);
  expect(await code(mumPage, locale)).toEqual(await code(sonPage, locale));
  await confirm(sonPage, locale, "Mum");
  await confirm(mumPage, locale, "Son");
  await sonPage.getByRole("button", { name: w.hangUp }).click();
  await mumPage.close();

  // Now a server in the middle: Son's call gets the middle's guest, and Mum, a call the
  // middle hosts (what a hub would do by sending her socket to its own call; here she
  // opens that call's link). Each side's DTLS connection, and so its code, has the
  // middle's fingerprint in place of the other side's (as if the hub had rewritten the
  // fingerprint line and ended DTLS itself). The middle passes the verification messages
  // on untouched, the best it can do: it cannot choose its values after seeing theirs.
  const middle = await Promise.all([phone(browser, locale, "Pixel 7"), phone(browser, locale, "Pixel 7")]);
  for (const m of middle) await m.context.addInitScript(relayVerifyChannel);
  const middlePages: Page[] = [];
  for (const [i, m] of middle.entries()) {
    await m.context.exposeFunction("__relay", async (message: string) => {
      // The other page of the middle may still be opening: the message waits for it.
      while (!middlePages[1 - i]) await new Promise((resolve) => setTimeout(resolve, 50));
      await middlePages[1 - i].evaluate((t) => (window as unknown as { __inject: (m: string) => void }).__inject(t), message);
    });
  }
  await sonPage.goto("/");
  const sonLink = await host(sonPage, locale);
  const middleHost = await open(middle[1], "/");
  const middleLink = await host(middleHost, locale);
  const middleGuest = await open(middle[0], sonLink);
  middlePages.push(middleGuest, middleHost);
  const mumAgain = await open(mum, middleLink);
  await expectRemoteVideoFlowing(mumAgain);
  await expectRemoteVideoFlowing(sonPage);

  const sonWords = await code(sonPage, locale);
  const mumWords = await code(mumAgain, locale);
  console.log(`in the middle: ${sonWords.join(" ")} / ${mumWords.join(" ")}`);
  expect(mumWords).not.toEqual(sonWords);
  // Each knows the other as a verified contact, on a device it never verified.
  await expect(sonPage.locator(".top-bar .verify")).toHaveText(w.warn);
  await expect(mumAgain.locator(".top-bar .verify")).toHaveText(w.warn);
  await sonPage.locator(".top-bar .verify").click();
  await expect(sonPage.locator(".sheet.verify .standing")).toContainText(`${w.otherDevice} Mum.`);
  await mumAgain.locator(".top-bar .verify").click();
  await expect(mumAgain.locator(".sheet.verify .standing")).toContainText(`${w.otherDevice} Son.`);
  // Mum reads the words, they differ: the sheet says what to do; nothing is kept.
  await mumAgain.getByRole("button", { name: w.differ }).click();
  await expect(mumAgain.locator(".sheet.verify .standing")).toContainText(w.differSaid);
  await expect(mumAgain.getByRole("button", { name: w.same, exact: true })).toHaveCount(0);
  // Son presses «They match» anyway: the name offered is Mum's, and saving it asks first,
  // since another device is verified under it.
  await sonPage.getByRole("button", { name: w.same, exact: true }).click();
  await expect(sonPage.getByLabel(w.name)).toHaveValue("Mum");
  await sonPage.getByRole("button", { name: w.save }).click();
  await expect(sonPage.locator(".sheet.verify .name .standing")).toHaveText(w.nameTaken);
  await expect(sonPage.getByRole("button", { name: w.replace })).toBeVisible();
  await expect(sonPage.locator(".top-bar .verify")).toHaveText(w.warn);
});

test("a hub that only rewrites the fingerprint line gets no call at all: the browsers hold DTLS to the fingerprint the code is made of", async ({ browser }) => {
  test.setTimeout(90_000);
  const locale: Locale = "ru-RU";
  const caller = await phone(browser, locale, "Pixel 7");
  caller.tamper = true;
  const callee = await phone(browser, locale, "iPhone 13");
  const hostPage = await open(caller, "/");
  const link = await host(hostPage, locale);
  const guestPage = await open(callee, link);
  // The offer and answer went through (the guest's page has the host's description)...
  await expect.poll(() => caller.sentFingerprints.length, { timeout: 15_000 }).toBeGreaterThan(0);
  // ...but the certificate the host's DTLS shows is not the one the guest was told of:
  // no connection, no code, no picture.
  await guestPage.waitForTimeout(12_000);
  await expect(guestPage.locator(".top-bar .verify")).toBeHidden();
  await expect(hostPage.locator(".top-bar .verify")).toBeHidden();
  expect(await guestPage.evaluate(() => (document.querySelector("video.remote") as HTMLVideoElement).videoWidth)).toBe(0);
});
