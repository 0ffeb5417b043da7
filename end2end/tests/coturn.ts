import { ChildProcess, spawn } from "node:child_process";

/**
 * A real coturn (Debian's `turnserver`) on `ip`:3478, STUN and TURN over UDP, with
 * `secret` as its REST-credentials secret; relays from `ip` too. Stop it with
 * `kill("SIGTERM")`.
 */
export function startCoturn(secret: string, ip = "10.200.0.1"): ChildProcess {
  return spawn(
    "turnserver",
    [
      `--listening-ip=${ip}`, `--relay-ip=${ip}`, "--listening-port=3478",
      "--min-port=49152", "--max-port=49400", "--use-auth-secret", `--static-auth-secret=${secret}`,
      "--realm=homecall.test", "--no-tls", "--no-dtls", "--no-cli", "--fingerprint",
      "--simple-log", "--log-file=stdout",
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
}
