#!/usr/bin/env bash
# Runs a command inside a private network namespace that has loopback plus a veth pair
# with private addresses. Chromium's WebRTC gathers no candidates on loopback alone, and
# browser tests must never use the machine's real interface: nothing here can leave it.
set -euo pipefail
if [ "${HOMECALL_IN_NETNS:-}" != 1 ]; then
  exec unshare --net env HOMECALL_IN_NETNS=1 "$0" "$@"
fi
ip link set lo up
ip link add hc0 type veth peer name hc1
ip addr add 10.200.0.1/24 dev hc0
ip addr add 10.200.0.2/24 dev hc1
ip link set hc0 up
ip link set hc1 up
# Firefox gathers no ICE candidates without a default route; what goes this way lands
# on hc1, inside this namespace, and goes nowhere.
ip route add default dev hc0
exec "$@"
