#!/usr/bin/env bash
# Runs the smoke suite (`npm run test:smoke`: CLI start-up, every native index and KV binding,
# a real cluster on file:// and s3://, shardyfusion serving) on another Node line, e.g. the
# current LTS: `bash tools/test-on-node.sh 26`.
#
# Node comes from the npm registry (the `node-<platform>-<arch>` package: the official binary
# and headers), so this needs no access beyond the registry. The checkout's files (tracked and
# untracked, not ignored ones) are copied to a temporary folder and installed there with
# `npm ci`, which compiles better-sqlite3 and hnswlib-node against that Node's headers: it needs
# a C++ toolchain (g++, make, python3). Nothing in this checkout (node_modules, dist) changes.
set -euo pipefail
major="${1:?usage: bash tools/test-on-node.sh <Node major version, e.g. 26>}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
platform="$(node -p process.platform)-$(node -p process.arch)"
work="$(mktemp -d "${TMPDIR:-/tmp}/shardfleet-node${major}-XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "test-on-node: fetching node-${platform}@${major} from the npm registry"
(cd "$work" && npm pack --silent "node-${platform}@${major}" >/dev/null && tar xzf node-"${platform}"-*.tgz && mv package node)
export PATH="$work/node/bin:$PATH"
export npm_config_nodedir="$work/node"
echo "test-on-node: $(node --version) ($work/node/bin/node), npm $(npm --version)"

mkdir "$work/repo"
git -C "$repo" ls-files -z --cached --others --exclude-standard \
  | tar -C "$repo" --null --ignore-failed-read -T - -cf - | tar -C "$work/repo" -xf -
cd "$work/repo"
npm ci
npm run test:smoke
