import { ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { OwnServer } from "./server";

/** A process of a test's own, stopped by PID. */
class Child {
  private child?: ChildProcess;

  constructor(
    readonly command: string,
    readonly args: string[],
  ) {}

  start(): void {
    this.child = spawn(this.command, this.args, { stdio: ["ignore", "ignore", "inherit"] });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
async function listening(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/** haproxy in front of `nodes`: signal sockets take turns between them (so two people
 * land on two nodes); a node that fails its `/healthz` check is taken out at once. */
function haproxyConfig(port: number, nodes: number[]): string {
  const servers = nodes.map((p, i) => `  server node${i} 127.0.0.1:${p} check inter 300ms fall 1 rise 2`);
  return [
    "defaults",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 60s",
    "  timeout server 60s",
    "  timeout tunnel 1h",
    "  option redispatch",
    "  retries 3",
    "frontend web",
    `  bind 127.0.0.1:${port}`,
    "  use_backend signal if { path_beg /signal }",
    "  default_backend pages",
    "backend signal",
    "  balance roundrobin",
    "  option httpchk GET /healthz",
    ...servers,
    "backend pages",
    "  balance roundrobin",
    "  option httpchk GET /healthz",
    ...servers,
    "",
  ].join("\n");
}

/** Redis, two HomeCall nodes sharing it and haproxy in front, on ports from `base`. */
export class Cluster {
  readonly url: string;
  readonly nodes: OwnServer[];
  private readonly redis: Child;
  private readonly haproxy: Child;
  private readonly dir: string;

  constructor(readonly base: number) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "homecall-cluster-"));
    const redisPort = base;
    this.redis = new Child("redis-server", [
      "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--dir", this.dir,
    ]);
    const env = { HOMECALL_REDIS_URL: `redis://127.0.0.1:${redisPort}/0`, HOMECALL_LOG: "info" };
    this.nodes = [new OwnServer(base + 1, env), new OwnServer(base + 2, env)];
    const config = path.join(this.dir, "haproxy.cfg");
    fs.writeFileSync(config, haproxyConfig(base + 3, [base + 1, base + 2]));
    this.haproxy = new Child("haproxy", ["-db", "-f", config]);
    this.url = `http://127.0.0.1:${base + 3}`;
  }

  async start(): Promise<void> {
    this.redis.start();
    await listening(this.base, "redis-server");
    for (const node of this.nodes) await node.start();
    this.haproxy.start();
    await listening(this.base + 3, "haproxy");
    // haproxy's first checks pass before traffic is sent.
    await new Promise((r) => setTimeout(r, 1_000));
  }

  async stop(): Promise<void> {
    await this.haproxy.stop();
    for (const node of this.nodes) await node.stop();
    await this.redis.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Signal sockets each node serves now. */
  async socketsPerNode(): Promise<number[]> {
    const counts: number[] = [];
    for (const node of this.nodes) {
      counts.push(await node.metric("homecall_sockets_connected").catch(() => NaN));
    }
    return counts;
  }
}
