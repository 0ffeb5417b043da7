#!/usr/bin/env bash
# Sets up what is missing, then runs every test: Rust unit and integration tests, the
# Playwright suite (two Chromium contexts calling each other; axe-core and keyboard audits)
# inside a private network namespace, and Lighthouse on the home page and a call link
# (each page one test). Ends with one line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
began=$(date +%s)
# Each step's start, in minutes since the start (CI's budget is 45 minutes from fresh).
# The same steps are listed again at the end with their durations, since a CI log is
# often read from its tail.
steps=()
last=$began
stamp() {
  local now
  now=$(date +%s)
  steps+=("$(printf '%4ds %s' $((now - last)) "${current:-setup}")")
  last=$now
  current=$1
  printf '== %s (at %d min)\n' "$1" $(((now - began) / 60))
}
scripts/setup.sh || exit 1
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
mkdir -p target
status=0

stamp "lint (fmt, clippy for ssr and hydrate)"
scripts/lint.sh || status=1

stamp "rust tests"
cargo test --features ssr --no-fail-fast 2>&1 | tee target/rust-tests.log
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
rust_passed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^passed/) s += $i} END {print s + 0}' target/rust-tests.log)
rust_failed=$(awk '/^test result:/ {for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^failed/) s += $i} END {print s + 0}' target/rust-tests.log)

stamp "release build"
scripts/build.sh || exit 1

stamp "browser tests"
rm -f end2end/results.json
scripts/in-netns.sh bash -c 'cd end2end && npx playwright test'
[ $? -eq 0 ] || status=1
read -r e2e_passed e2e_failed e2e_flaky < <(node -e '
  const fs = require("fs");
  let r; try { r = JSON.parse(fs.readFileSync("end2end/results.json", "utf8")); } catch { r = { stats: {} }; }
  const s = r.stats || {};
  console.log((s.expected || 0) + (s.flaky || 0), (s.unexpected || 0), s.flaky || 0);
')

stamp "lighthouse (home page and a call link, mobile)"
# Its own release server on a free port inside its own namespace, stopped by PID.
scripts/in-netns.sh scripts/lighthouse.sh target/lighthouse/results.json
[ $? -eq 0 ] || status=1
# Each audited page is one test; a page the run never reached counts as failed.
read -r lh_passed lh_failed < <(node -e '
  const fs = require("fs");
  let r; try { r = JSON.parse(fs.readFileSync("target/lighthouse/results.json", "utf8")); } catch { r = { audited: ["lighthouse"], pages: [] }; }
  const passed = r.pages.filter((p) => p.passed).length;
  console.log(passed, r.audited.length - passed);
')

passed=$((rust_passed + e2e_passed + lh_passed))
failed=$((rust_failed + e2e_failed + lh_failed))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "rust: $rust_passed passed, $rust_failed failed; browser: $e2e_passed passed ($e2e_flaky of them only on a retry), $e2e_failed failed; lighthouse: $lh_passed passed, $lh_failed failed"
stamp "done"
printf '== took:\n'
printf '  %s\n' "${steps[@]}"
cat target/setup-times.log 2>/dev/null
echo "$passed passed, $failed failed"
exit "$status"
