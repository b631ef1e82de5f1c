#!/bin/sh
# ctest's entry to the browser tests: report_pages.test.mjs with Node.js. Node, Chromium and
# tests/browser/node_modules come from scripts/setup.sh; a missing one fails the test, never skips it.
# Usage: run_browser_tests.sh PATH/TO/rbench
if ! command -v node >/dev/null 2>&1; then
  echo "browser tests: node is not installed; run scripts/setup.sh (nodejs, npm, chromium, npm ci)" >&2
  exit 1
fi
exec node "$(dirname "$0")/report_pages.test.mjs" "$@"
