#!/usr/bin/env bash
# Sets up what is missing, builds, and serves HomeCall on http://127.0.0.1:3000.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BROWSER=0 scripts/setup.sh
scripts/build.sh
exec target/release/homecall "$@"
