import { test, expect, devices, Page } from "@playwright/test";
import { chromiumWithDevices, closeOpened, expectRemoteVideoFlowing, openHydrated, person, printPageLog, remotePeak, startCallAsHost } from "./helpers";

// Devices (issue #13): the panel where a person picks the microphone, camera and speaker
// and sees the microphone's level, before the call and during it, on a phone, in Russian
// and English.

test.afterEach(closeOpened);

/** The device id the page's own stream takes its track of `kind` from. */
function localDevice(page: Page, kind: "audio" | "video"): Promise<string | undefined> {
  return page.evaluate((kind) => {
    const video = document.querySelector("video.local") as HTMLVideoElement | null;
    const stream = video?.srcObject as MediaStream | null;
    const track = kind === "audio" ? stream?.getAudioTracks()[0] : stream?.getVideoTracks()[0];
    return track?.getSettings().deviceId;
  }, kind);
}

/** The highest level the panel's microphone bar shows over `ms`. */
async function loudestLevel(page: Page, ms: number): Promise<number> {
  await expect(page.locator(".devices progress.level")).toBeVisible();
  return page.evaluate(async (ms) => {
    const bar = document.querySelector(".devices progress.level") as HTMLProgressElement;
    let loudest = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      loudest = Math.max(loudest, bar.value);
      await new Promise((r) => setTimeout(r, 50));
    }
    return loudest;
  }, ms);
}

test("before the call: the waiting host opens «Устройства» over its own picture and the microphone's bar moves", async ({ browser }) => {
  const host = await person(browser);
  await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  await expect(host.page.locator("video.local")).toHaveJSProperty("paused", false);
  await host.page.getByRole("button", { name: "Устройства" }).click();
  const panel = host.page.getByRole("complementary", { name: "Устройства" });
  await expect(panel).toBeVisible();
  await expect(panel.getByLabel("Микрофон", { exact: true })).toBeVisible();
  await expect(panel.getByLabel("Камера", { exact: true })).toBeVisible();
  // The camera's picture, under its picker.
  await expect
    .poll(() => host.page.evaluate(() => (document.querySelector(".devices video.preview") as HTMLVideoElement | null)?.videoWidth ?? 0))
    .toBeGreaterThan(0);
  // Chromium's fake microphone beeps: the bar moves with it.
  expect(await loudestLevel(host.page, 3_000)).toBeGreaterThan(5);
  // The microphone off: the bar stays down.
  await host.page.keyboard.press("Escape");
  await expect(panel).toBeHidden();
  await host.page.getByRole("button", { name: /^Микрофон — выключить/ }).click();
  await host.page.getByRole("button", { name: "Устройства" }).click();
  expect(await loudestLevel(host.page, 1_500)).toBe(0);
});

test("in a call on a phone (English): the guest picks another microphone, camera and speaker by name; sound and picture go on from the new devices", async ({ browser }) => {
  const host = await person(browser);
  const link = await startCallAsHost(host.page);
  await host.page.getByRole("button", { name: "Начать звонок" }).click();
  // Three fake cameras: Chromium makes its second a depth camera (Y16), which gives the
  // receiver no picture, so the test picks cameras by label and never that one.
  const three = await chromiumWithDevices(3);
  try {
    const { defaultBrowserType: _, ...pixel } = devices["Pixel 7"];
    const context = await three.newContext({ ...pixel, locale: "en-US" });
    const page = await context.newPage();
    printPageLog(page);
    await openHydrated(page, link);
    await expectRemoteVideoFlowing(host.page);
    await expectRemoteVideoFlowing(page);

    const listed = await page.evaluate(async () =>
      (await navigator.mediaDevices.enumerateDevices()).map((d) => ({ kind: d.kind, id: d.deviceId, label: d.label })),
    );
    const cameras = listed.filter((d) => d.kind === "videoinput");
    const microphones = listed.filter((d) => d.kind === "audioinput");
    const speakers = listed.filter((d) => d.kind === "audiooutput");
    console.log(`devices: ${cameras.length} cameras, ${microphones.length} microphones, ${speakers.length} speakers`);
    expect(cameras.length).toBe(3);
    expect(microphones.length).toBeGreaterThan(1);

    await page.getByRole("button", { name: "Devices" }).click();
    const panel = page.getByRole("complementary", { name: "Devices" });
    await expect(panel).toBeVisible();
    // Each picker lists the devices by name, the one in use chosen.
    const cameraPicker = panel.getByLabel("Camera", { exact: true });
    await expect(cameraPicker.locator("option")).toHaveText(cameras.map((c) => c.label));
    await expect(cameraPicker).toHaveValue((await localDevice(page, "video"))!);
    await expect(panel.getByLabel("Microphone", { exact: true }).locator("option")).toHaveText(microphones.map((m) => m.label));

    // The third camera, by its label (not the depth one).
    const third = cameras[2];
    await cameraPicker.selectOption({ label: third.label });
    await expect.poll(() => localDevice(page, "video")).toBe(third.id);
    await expectRemoteVideoFlowing(host.page);

    // Another microphone: the host still hears the guest.
    const before = await localDevice(page, "audio");
    const other = microphones.find((m) => m.id !== before)!;
    await panel.getByLabel("Microphone", { exact: true }).selectOption({ label: other.label });
    await expect.poll(() => localDevice(page, "audio")).toBe(other.id);
    expect(await remotePeak(host.page)).toBeGreaterThan(0.05);

    // A speaker, where the browser can route sound.
    if (speakers.length > 1) {
      const speaker = speakers[speakers.length - 1];
      await panel.getByLabel("Speaker", { exact: true }).selectOption({ label: speaker.label });
      await expect
        .poll(() => page.evaluate(() => (document.querySelector("video.remote") as HTMLMediaElement & { sinkId: string }).sinkId))
        .toBe(speaker.id);
    }

    // Closed with «×»; the call goes on.
    await panel.getByRole("button", { name: "Close devices" }).click();
    await expect(panel).toBeHidden();
    await expect(page.locator("section.call")).toHaveAttribute("data-phase", "in-call");
    await expectRemoteVideoFlowing(host.page);
  } finally {
    await three.close();
  }
});
