import { test, expect, Page } from "@playwright/test";
import { closeOpened, expectRemoteVideoFlowing, person, startCallAsHost } from "./helpers";
import { Cluster } from "./cluster";

// More than one node: a real redis-server, two HomeCall nodes (release binary, Redis
// engine) and Debian's haproxy in front, which hands signal sockets to the nodes in turn.

test.afterEach(closeOpened);

async function expectInCall(page: Page): Promise<void> {
  await expect(page.locator("section.call")).toHaveAttribute("data-phase", "in-call", { timeout: 15_000 });
  await expectRemoteVideoFlowing(page, 15_000);
}

test("a call through a load balancer outlives a node's crash, and hang-up still reaches the other side", async ({ browser }) => {
  const cluster = new Cluster(3300);
  await cluster.start();
  try {
    const host = await person(browser, `${cluster.url}/`);
    await startCallAsHost(host.page);
    await host.page.getByRole("button", { name: "Начать звонок" }).click();
    await expect(host.page.getByText("Ждём собеседника…")).toBeVisible();
    const link = await host.page.getByLabel("Ссылка на звонок").first().inputValue();
    const guest = await person(browser, link);
    await expectInCall(guest.page);
    await expectInCall(host.page);
    // Host and guest are on different nodes: the call's signalling crossed Redis.
    expect(await cluster.socketsPerNode()).toEqual([1, 1]);

    // One participant's node crashes; that client reconnects through haproxy to the other.
    const started = Date.now();
    await cluster.nodes[0].kill();
    await expect.poll(() => cluster.socketsPerNode().then((n) => n[1]), { timeout: 15_000 }).toBe(2);
    console.log(`node kill -9: both sockets on the live node after ${Date.now() - started} ms`);
    // Signalling works there: a reload of the guest renegotiates through the live node.
    await guest.page.reload();
    await expectInCall(guest.page);
    await expectInCall(host.page);
    console.log(`node kill -9: call renegotiated after ${Date.now() - started} ms`);

    // The hang-up ends the call on both sides.
    await guest.page.getByRole("button", { name: "Завершить" }).click();
    await expect(guest.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
    await expect(host.page.getByRole("heading", { name: "Звонок завершён" })).toBeVisible();
  } finally {
    await cluster.stop();
  }
});
