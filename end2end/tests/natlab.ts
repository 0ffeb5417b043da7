import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * Two homes behind NAT, built from network namespaces inside the test's own namespace
 * (scripts/in-netns.sh), and taken down after:
 *
 *     client-a 10.0.1.2 ── 10.0.1.1 router-a 198.51.100.2 ──┐
 *                                                            ├─ this namespace: "the internet"
 *     client-b 10.0.2.2 ── 10.0.2.1 router-b 203.0.113.2  ──┘  (198.51.100.1, 203.0.113.1:
 *                                                               the hub and coturn)
 *
 * Each router masquerades its home behind its one public address and, as home routers
 * do, drops unsolicited packets from outside without an answer. A `symmetric` router
 * gives every new destination a new random port (`MASQUERADE --random-fully`), so a
 * port learnt through STUN is no use to the other side: only TURN gets through.
 * Addresses are from the documentation ranges, and every packet stays in namespaces
 * this lab made.
 */
export class NatLab {
  /** The hub's and coturn's address on the "internet". */
  static readonly PUBLIC = "198.51.100.1";
  private readonly names: string[];
  private readonly dir = mkdtempSync(path.join(tmpdir(), "homecall-nat-"));

  constructor(readonly symmetric: boolean) {
    const tag = `hc${process.pid}`;
    this.names = ["ra", "rb", "ca", "cb"].map((n) => `${tag}${n}`);
  }

  private get ns() {
    const [ra, rb, ca, cb] = this.names;
    return { ra, rb, ca, cb };
  }

  /** Builds the lab; undo it with `down`, also when this throws. */
  up(): void {
    const { ra, rb, ca, cb } = this.ns;
    const masquerade = this.symmetric ? "MASQUERADE --random-fully" : "MASQUERADE";
    const home = (router: string, client: string, pub: string, wan: string, lan: string, uplink: string) => `
      ip link add ${uplink} type veth peer name wan netns ${router}
      ip addr add ${pub}.1/24 dev ${uplink}
      ip link set ${uplink} up
      ip -n ${router} link set lo up
      ip -n ${router} addr add ${wan}/24 dev wan
      ip -n ${router} link set wan up
      ip -n ${router} route add default via ${pub}.1
      ip -n ${router} link add lan type veth peer name eth0 netns ${client}
      ip -n ${router} addr add ${lan}.1/24 dev lan
      ip -n ${router} link set lan up
      ip -n ${client} link set lo up
      ip -n ${client} addr add ${lan}.2/24 dev eth0
      ip -n ${client} link set eth0 up
      ip -n ${client} route add default via ${lan}.1
      ip netns exec ${router} sysctl -qw net.ipv4.ip_forward=1
      ip netns exec ${router} iptables -t nat -A POSTROUTING -o wan -j ${masquerade}
      ip netns exec ${router} iptables -A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP
      ip netns exec ${router} iptables -A FORWARD -i wan -m conntrack --ctstate NEW,INVALID -j DROP
      ip netns exec ${router} iptables -A OUTPUT -o wan -p icmp --icmp-type port-unreachable -j DROP
    `;
    sh(`
      set -e
      # No IPv6: its addresses come up seconds after the links (duplicate address
      # detection), and Chromium aborts a page load on that "network change".
      for n in ${this.names.join(" ")}; do
        ip netns add $n
        ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
      done
      sysctl -qw net.ipv4.ip_forward=1
      ${home(ra, ca, "198.51.100", "198.51.100.2", "10.0.1", "hcpa")}
      ${home(rb, cb, "203.0.113", "203.0.113.2", "10.0.2", "hcpb")}
    `);
  }

  /**
   * A self-signed certificate for the public address (pages outside loopback need a
   * secure context for the camera): the server's `HOMECALL_TLS_CERT`/`_KEY` settings.
   */
  certificate(): { HOMECALL_TLS_CERT: string; HOMECALL_TLS_KEY: string } {
    const cert = path.join(this.dir, "cert.pem");
    const key = path.join(this.dir, "key.pem");
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-days", "1", "-subj", `/CN=${NatLab.PUBLIC}`, "-addext", `subjectAltName=IP:${NatLab.PUBLIC}`,
      "-keyout", key, "-out", cert,
    ], { stdio: "pipe" });
    return { HOMECALL_TLS_CERT: cert, HOMECALL_TLS_KEY: key };
  }

  /** An executable that runs Debian's chromium inside client `a` or `b`'s namespace. */
  chromiumIn(client: "a" | "b"): string {
    const ns = client === "a" ? this.ns.ca : this.ns.cb;
    const file = path.join(this.dir, `chromium-${client}`);
    writeFileSync(file, `#!/bin/sh\nexec ip netns exec ${ns} /usr/bin/chromium "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  }

  /** Removes every namespace and link the lab made. */
  down(): void {
    sh(`
      for n in ${this.names.join(" ")}; do ip netns del $n 2>/dev/null; done
      ip link del hcpa 2>/dev/null; ip link del hcpb 2>/dev/null
      sysctl -qw net.ipv4.ip_forward=0
      true
    `);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function sh(script: string): void {
  execFileSync("sh", ["-c", script], { stdio: "pipe" });
}
