import { ChildProcess, spawn } from "node:child_process";
import path from "node:path";

/** A HomeCall server of a test's own (for restarts and special settings), on 127.0.0.1. */
export class OwnServer {
  private child?: ChildProcess;
  readonly url: string;

  constructor(
    readonly port: number,
    readonly env: Record<string, string> = {},
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const root = path.resolve(__dirname, "..", "..");
    const binary = process.env.HOMECALL_BIN ?? path.join("target", "release", "homecall");
    this.child = spawn(path.resolve(root, binary), [], {
      cwd: root,
      env: {
        ...process.env,
        HOMECALL_LISTEN: `127.0.0.1:${this.port}`,
        HOMECALL_SITE_ROOT: "target/site",
        HOMECALL_LOG: "warn",
        HOMECALL_MAX_SOCKETS_PER_IP: "10000",
        HOMECALL_NEW_SESSIONS_PER_IP_PER_MINUTE: "10000",
        HOMECALL_MAX_CONNECTIONS_PER_IP: "10000",
        HOMECALL_TURN_CREDENTIALS_PER_IP_PER_MINUTE: "10000",
        ...this.env,
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${this.url}/healthz`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server on ${this.port} did not start`);
  }

  /** Stops the server (SIGTERM: it closes live sockets with 1001) and waits for its exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }

  /** kill -9: a crash; nothing is closed or flushed. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }

  /** A value of `/metrics` (the first line of `name`), or NaN. */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(" ")[1]) : NaN;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
