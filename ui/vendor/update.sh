#!/bin/sh
# Refreshes ui/vendor/ from npm: htm's preact standalone build (preact, its hooks and htm in one
# ES module) and the licenses of both packages. Usage: ui/vendor/update.sh [HTM_VERSION] [PREACT_VERSION]
# Then update the versions in ui/vendor/README.md and check the UI with tests/ui/*.mjs.
set -eu
HTM=${1:-3.1.1}
PREACT=${2:-11.2.0}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y >/dev/null
npm install --no-audit --no-fund "htm@$HTM" "preact@$PREACT" >/dev/null
cp node_modules/htm/preact/standalone.module.js "$here/standalone.module.js"
cp node_modules/htm/LICENSE "$here/LICENSE-htm"
cp node_modules/preact/LICENSE "$here/LICENSE-preact"
sha256sum "$here/standalone.module.js"
