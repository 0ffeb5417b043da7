import { test, expect, Browser, Page } from "@playwright/test";
import { startCoturn } from "./coturn";
import { closeOpened, newContext, openHydrated } from "./helpers";
import { OwnServer } from "./server";

// The connection doctor (issue #13): «Проверить связь» probes each STUN and TURN server the
// page was given, with the call's own TURN credentials, and says in plain words which
// answer and what the operator must add. A real coturn on the test's own network, three
// HomeCall servers pointing at it (the right secret, a wrong one), and coturn stopped.

test.afterEach(closeOpened);

const ICE = "stun:10.200.0.1:3478,turn:10.200.0.1:3478?transport=udp,turn:10.200.0.1:3478?transport=tcp";

/** A host alone in a call on `server` (the TURN credentials come with a live call). */
async function waitingHost(browser: Browser, server: OwnServer): Promise<Page> {
  const context = await newContext(browser, { locale: "ru-RU" });
  const page = await context.newPage();
  await openHydrated(page, `${server.url}/`);
  await page.getByRole("button", { name: "Позвонить" }).click();
  await page.getByRole("button", { name: "Начать звонок" }).click();
  await expect(page.locator("section.call")).toBeVisible();
  return page;
}

/** Presses «Проверить связь» and waits for the report (each probe takes at most 5 s). */
async function examine(page: Page): Promise<string> {
  await page.getByRole("button", { name: "Проверить связь" }).click();
  const notice = page.locator(".notice");
  await expect(notice).toBeVisible();
  await expect(notice).not.toContainText("Проверяем", { timeout: 30_000 });
  return (await notice.getByRole("alert").textContent()) ?? "";
}

test("the connection doctor says which STUN and TURN servers answer, and what the operator must add", async ({ browser }) => {
  test.setTimeout(120_000);
  const secret = "doctor-secret";
  const turn = startCoturn(secret);
  const right = new OwnServer(3105, { HOMECALL_ICE_SERVERS: ICE, HOMECALL_TURN_SECRET: secret });
  const wrong = new OwnServer(3106, { HOMECALL_ICE_SERVERS: ICE, HOMECALL_TURN_SECRET: "not-the-secret" });
  const bare = new OwnServer(3107);
  try {
    await new Promise((r) => setTimeout(r, 500));
    await Promise.all([right.start(), wrong.start(), bare.start()]);

    const page = await waitingHost(browser, right);
    const report = await examine(page);
    console.log(`doctor, everything up:\n${report}`);
    expect(report).toContain("✓ STUN 10.200.0.1:3478 — отвечает");
    expect(report).toContain("✓ TURN (UDP) 10.200.0.1:3478 — отвечает");
    expect(report).toContain("✓ TURN (TCP) 10.200.0.1:3478 — отвечает");
    expect(report, "no TURN over TLS on 443 is offered").toContain("Нет TURN по TLS");
    expect(report).toContain("turns:хост:443?transport=tcp");

    const refused = await examine(await waitingHost(browser, wrong));
    console.log(`doctor, a wrong TURN secret:\n${refused}`);
    expect(refused).toContain("✓ STUN 10.200.0.1:3478 — отвечает");
    expect(refused).toContain("✗ TURN (UDP) 10.200.0.1:3478 — отклоняет пароль");
    expect(refused).toContain("static-auth-secret");

    const none = await examine(await waitingHost(browser, bare));
    expect(none).toBe("Нет ни STUN, ни TURN. Администратору: задайте --ice-servers и --turn-secret.");

    // coturn stops: nothing answers, and the page says so.
    turn.kill("SIGTERM");
    await new Promise((r) => turn.once("exit", r));
    await page.locator(".notice").getByRole("button", { name: "Закрыть" }).click();
    const down = await examine(page);
    console.log(`doctor, coturn stopped:\n${down}`);
    expect(down).toContain("✗ TURN (UDP) 10.200.0.1:3478 — не отвечает");
    expect(down).toContain("✗ TURN (TCP) 10.200.0.1:3478 — не отвечает");
    expect(down).toContain("✗ STUN 10.200.0.1:3478 — не отвечает");
    expect(down).toContain("откройте его порты");
  } finally {
    turn.kill("SIGTERM");
    await Promise.all([right.stop(), wrong.stop(), bare.stop()]);
  }
});
