import { ChildProcess, spawn } from "node:child_process";
import https from "node:https";
import path from "node:path";

/**
 * A HomeCall server of a test's own (for restarts and special settings), on 127.0.0.1 or
 * `host`; over https when `env` gives it a certificate (`HOMECALL_TLS_CERT`).
 */
export class OwnServer {
  private child?: ChildProcess;
  readonly url: string;

  constructor(
    readonly port: number,
    readonly env: Record<string, string> = {},
    readonly host = "127.0.0.1",
  ) {
    const scheme = env.HOMECALL_TLS_CERT ? "https" : "http";
    this.url = `${scheme}://${host}:${port}`;
  }

  async start(): Promise<void> {
    const root = path.resolve(__dirname, "..", "..");
    const binary = process.env.HOMECALL_BIN ?? path.join("target", "release", "homecall");
    this.child = spawn(path.resolve(root, binary), [], {
      cwd: root,
      env: {
        ...process.env,
        HOMECALL_LISTEN: `${this.host}:${this.port}`,
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
      if (await this.healthy()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server on ${this.port} did not start`);
  }

  /** Whether `/healthz` answers 200 (a test's own certificate is not checked). */
  private healthy(): Promise<boolean> {
    if (!this.url.startsWith("https:")) {
      return fetch(`${this.url}/healthz`).then((r) => r.ok, () => false);
    }
    return new Promise((resolve) => {
      https
        .get(`${this.url}/healthz`, { rejectUnauthorized: false }, (response) => {
          response.resume();
          resolve(response.statusCode === 200);
        })
        .on("error", () => resolve(false));
    });
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
