#!/bin/sh
# Installs the pinned npm packages (package-lock.json) and copies the few browser files the
# pages load into vendor/, which is committed: `cargo build` embeds web/js and web/vendor and
# needs no npm. Run after changing package.json: `npm run vendor` (or `sh vendor.sh`).
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
rm -rf vendor
mkdir -p vendor/noble-ed25519 vendor/noble-hashes vendor/uqr
cp node_modules/@noble/ed25519/index.js node_modules/@noble/ed25519/LICENSE vendor/noble-ed25519/
# sha2.js and the three modules it imports (relative imports, so they stay side by side).
for f in sha2.js _md.js _u64.js utils.js LICENSE; do
  cp "node_modules/@noble/hashes/$f" vendor/noble-hashes/
done
cp node_modules/uqr/dist/index.mjs vendor/uqr/index.js
cp node_modules/uqr/LICENSE vendor/uqr/LICENSE
# Which versions these are, for reviewers and licence checks.
node -e '
const p = (n) => require("./node_modules/" + n + "/package.json");
const lines = ["@noble/ed25519", "@noble/hashes", "uqr"].map((n) => `${n} ${p(n).version} ${p(n).license}`);
require("fs").writeFileSync("vendor/VERSIONS", lines.join("\n") + "\n");
'
echo "vendor/ updated:"; cat vendor/VERSIONS
