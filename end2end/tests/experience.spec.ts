import { test, expect, devices, Page } from "@playwright/test";
import { startCoturn } from "./coturn";
import { chromiumWithDevices, closeOpened, expectRemoteVideoFlowing, launchAskingChromium, newContext, openHydrated, person, remoteFrames, remotePeak, startCallAsHost } from "./helpers";
import { OwnServer } from "./server";

test.afterEach(closeOpened);

test("muting the microphone is silence on the other side", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  const guest = await person(browser, link);
  await expectRemoteVideoFlowing(guest.page);
  expect(await remotePeak(guest.page)).toBeGreaterThan(0.01);
  await host.page.getByRole("button", { name: "Микрофон — выключить (M)" }).click();
  await expect(host.page.getByRole("button", { name: "Микрофон выкл. — включить (M)" })).toBeVisible();
  await guest.page.waitForTimeout(500);
  expect(await remotePeak(guest.page)).toBeLessThan(0.001);
  await host.page.keyboard.press("m");
  await expect(host.page.getByRole("button", { name: "Микрофон — выключить (M)" })).toBeVisible();
  await expect.poll(() => remotePeak(guest.page), { timeout: 10_000 }).toBeGreaterThan(0.01);
});

test("the UI speaks English when the browser prefers it", async ({ browser }) => {
  const context = await newContext(browser, { locale: "en-US" });
  const page = await context.newPage();
  await openHydrated(page, "/");
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.locator('meta[name="description"]')).toHaveAttribute("content", "Video calls by link. No sign-up, nothing to install.");
  await page.getByRole("button", { name: "Call" }).click();
  await expect(page.getByRole("button", { name: "Start call" })).toBeVisible();
  await page.goto("/?session=broken");
  await expect(page.getByRole("heading", { name: "Invalid call link" })).toBeVisible();
  await context.close();
});

for (const name of ["Pixel 7", "iPhone 14"]) {
  test(`${name}: home, share-link and call views fit the screen`, async ({ browser }) => {
    const { defaultBrowserType: _, ...phone } = devices[name];
    const context = await newContext(browser, { ...phone });
    const page = await context.newPage();
    const fits = async (view: string) => {
      const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      expect(scroll, `${view} scrolls sideways`).toBeLessThanOrEqual(width);
      await page.screenshot({ path: test.info().outputPath(`${name.replace(/ /g, "-")}-${view}.png`) });
    };
    await openHydrated(page, "/");
    await fits("home");
    await page.getByRole("button", { name: "Позвонить" }).click();
    await expect(page.getByRole("button", { name: "Начать звонок" })).toBeVisible();
    await fits("share");
    await page.getByRole("button", { name: "Начать звонок" }).click();
    await expect(page.locator("section.call")).toBeVisible();
    await page.waitForTimeout(500);
    await fits("call");
    const hangUp = page.getByRole("button", { name: "Завершить" });
    const box = await hangUp.boundingBox();
    expect(box!.height).toBeGreaterThanOrEqual(44);
    await context.close();
  });
}

test("with the camera denied the call connects with sound only, says how to allow it, and takes the camera when allowed", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();

  // A browser that asks for permission like a real one (no auto-accepting fake UI), where
  // this person allowed the microphone and not the camera.
  const asking = await launchAskingChromium();
  try {
    const context = await asking.newContext({ locale: "ru-RU", permissions: ["microphone"] });
    const page = await context.newPage();
    await openHydrated(page, link);
    // A card, not a toast: what is missing, this browser's steps (desktop Chrome here), a
    // way to try again; the camera's control stays and says why.
    const card = page.locator(".media-card");
    await expect(card.getByRole("alert")).toContainText("Камера недоступна");
    await expect(card.getByRole("alert")).toContainText("Нажмите значок настроек слева от адреса");
    await expect(page.locator("section.call")).toHaveAttribute("data-phase", "in-call", { timeout: 20_000 });
    await expectRemoteVideoFlowing(page);
    expect(await remotePeak(host.page)).toBeGreaterThan(0.01);
    expect(await remoteFrames(host.page), "the host sees no picture yet").toBe(0);
    await card.getByRole("button", { name: "Закрыть" }).click();
    await expect(card).toBeHidden();
    await page.getByRole("button", { name: "Нет камеры — почему?" }).click();
    await expect(card, "the camera's control opens the card again").toBeVisible();

    // The person allows the camera and tries again: the picture joins the running call.
    await context.grantPermissions(["camera", "microphone"]);
    await card.getByRole("button", { name: "Попробовать снова" }).click();
    await expect(card).toBeHidden();
    await expect(page.getByRole("button", { name: "Камера — выключить (V)" })).toBeVisible();
    await expectRemoteVideoFlowing(host.page);
    await expect(page.locator("section.call")).toHaveAttribute("data-phase", "in-call");
    expect(await remotePeak(host.page), "the sound goes on").toBeGreaterThan(0.01);
  } finally {
    await asking.close();
  }
});

/** A HomeCall server whose pages relay everything through that coturn. */
function relayOnlyServer(port: number, secret: string, env: Record<string, string> = {}): OwnServer {
  return new OwnServer(port, {
    HOMECALL_ICE_SERVERS: "turn:10.200.0.1:3478?transport=udp",
    HOMECALL_TURN_SECRET: secret,
    HOMECALL_RELAY_ONLY: "true",
    ...env,
  });
}

test("a relay-only call connects through coturn, with credentials only for the call", async ({ browser }) => {
  const secret = "e2e-turn-secret";
  const turn = startCoturn(secret);
  const server = relayOnlyServer(3102, secret);
  try {
    await new Promise((r) => setTimeout(r, 500));
    await server.start();
    // Without a live signal socket, no TURN credentials: the page's own request, which
    // names its call, is what gets them (else this call could not connect at all).
    const config = await (await fetch(`${server.url}/api/config`)).json();
    expect(config.relayOnly).toBe(true);
    expect(JSON.stringify(config)).not.toContain("username");
    const host = await person(browser, `${server.url}/`);
    const link = await startCallAsHost(host.page);
    await host.page.getByRole("button", { name: "Начать звонок" }).click();
    const guest = await person(browser, link);
    await expectRemoteVideoFlowing(guest.page);
    await expectRemoteVideoFlowing(host.page);
  } finally {
    await server.stop();
    turn.kill("SIGTERM");
  }
});

test("a relayed call renews its TURN credentials and keeps flowing past their expiry", async ({ browser }) => {
  const secret = "e2e-turn-secret";
  const turn = startCoturn(secret);
  // Credentials for 12 s: pages renew them after 9 s and restart ICE onto them.
  const server = relayOnlyServer(3103, secret, { HOMECALL_TURN_CREDENTIAL_TTL: "12s" });
  try {
    await new Promise((r) => setTimeout(r, 500));
    await server.start();
    const host = await person(browser, `${server.url}/`);
    const renewals = { host: 0, guest: 0 };
    host.page.on("console", (m) => { if (m.text().includes("TURN credentials renewed")) renewals.host++; });
    const link = await startCallAsHost(host.page);
    await host.page.getByRole("button", { name: "Начать звонок" }).click();
    const guest = await person(browser, link);
    guest.page.on("console", (m) => { if (m.text().includes("TURN credentials renewed")) renewals.guest++; });
    await expectRemoteVideoFlowing(guest.page);
    await expectRemoteVideoFlowing(host.page);
    await expect.poll(() => Math.min(renewals.host, renewals.guest), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    // Two renewals each: the first credentials expired long ago.
    await expectRemoteVideoFlowing(guest.page, 5_000);
    await expectRemoteVideoFlowing(host.page, 5_000);
  } finally {
    await server.stop();
    turn.kill("SIGTERM");
  }
});


/** The device id of the camera the page shows as its own picture. */
async function localCamera(page: Page): Promise<string | undefined> {
  return page.evaluate(() => {
    const video = document.querySelector("video.local") as HTMLVideoElement | null;
    const stream = video?.srcObject as MediaStream | null;
    return stream?.getVideoTracks()[0]?.getSettings().deviceId;
  });
}

test("switching the camera mid-call: the other side keeps getting video, from the new camera", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  // The guest's browser has three fake cameras. Chromium makes its second fake camera a
  // depth camera (Y16), which gives no picture to send; the third is an ordinary one.
  const three = await chromiumWithDevices(3);
  try {
    const context = await three.newContext({ locale: "ru-RU" });
    const page = await context.newPage();
    await openHydrated(page, link);
    await expectRemoteVideoFlowing(host.page);
    const cameras = await page.evaluate(async () =>
      (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput").map((d) => d.deviceId),
    );
    expect(cameras).toHaveLength(3);
    expect(await localCamera(page)).toBe(cameras[0]);

    const switchCamera = page.getByRole("button", { name: "Сменить камеру" });
    await switchCamera.click();
    await expect.poll(() => localCamera(page)).toBe(cameras[1]);
    await switchCamera.click();
    await expect.poll(() => localCamera(page)).toBe(cameras[2]);

    // The first camera is stopped: only the new track, sent in its place, can move the
    // host's picture now.
    await expectRemoteVideoFlowing(host.page);
    await expect(page.locator("section.call")).toHaveAttribute("data-phase", "in-call");
    await expect(host.page.locator("section.call")).toHaveAttribute("data-phase", "in-call");
  } finally {
    await three.close();
  }
});
