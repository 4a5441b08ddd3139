#!/usr/bin/env bash
# Installs what `npm test` and `npm run demo` need, idempotently, on a fresh machine:
#  1. node modules, with `npm ci`, whenever package-lock.json differs from the one last installed;
#  2. a Vulkan driver that Dawn accepts (Debian backports' Mesa lavapipe) when no WebGPU adapter is found, and
#     Mesa's EGL/GLES libraries for Dawn's OpenGL ES backend (the cross-driver determinism tests use it).
# The backports suite reuses the URI already in this machine's apt sources: no mirror host is named here.
set -euo pipefail
cd "$(dirname "$0")/.."

# onnxruntime-node's postinstall downloads binaries from outside the npm registry; the CPU build it ships is enough.
export ONNXRUNTIME_NODE_INSTALL=skip

ensure_node_modules() {
  local stamp=node_modules/.tessera-lock.sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x node_modules/.bin/node ]; then
    return 0
  fi
  echo "setup: installing node modules (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
}

has_webgpu_adapter() {
  timeout 60 node_modules/.bin/node scripts/probe-webgpu.mjs >/dev/null 2>&1
}

# Prints the URI of the apt source that serves this release's main suite (deb822 or one-line format).
debian_uri() {
  local codename=$1
  awk -v suite="$codename" '
    /^[[:space:]]*$/ { if (uri != "" && hit) { print uri; exit } uri=""; hit=0; next }
    /^URIs:/ { uri=$2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) hit=1 }
    END { if (uri != "" && hit) print uri }
  ' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 || true
  grep -hE "^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+$codename[[:space:]]" \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/' | head -n 1 || true
}

install_vulkan_driver() {
  local sudo="" codename uri
  [ "$(id -u)" = 0 ] || sudo="sudo"
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if [ -z "$codename" ]; then
    echo "setup: cannot tell the Debian release; install a Vulkan driver (Mesa >= 25) by hand" >&2
    return 1
  fi
  if ! grep -rqsE "(^|[[:space:]])$codename-backports([[:space:]]|$)" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uri=$(debian_uri "$codename" | head -n 1)
    if [ -z "$uri" ]; then
      echo "setup: no apt source for $codename found to reuse for $codename-backports" >&2
      return 1
    fi
    echo "setup: adding $codename-backports from the machine's own apt source" >&2
    printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uri" "$codename" | $sudo tee /etc/apt/sources.list.d/tessera-backports.sources >/dev/null
  fi
  echo "setup: installing Mesa (lavapipe, EGL, GLES) and libvulkan1 from $codename-backports" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -t "$codename-backports" \
    mesa-vulkan-drivers libvulkan1 libegl-mesa0 libegl1 libgles2 >/dev/null
}

has_gles() {
  dpkg -s libegl-mesa0 libegl1 libgles2 >/dev/null 2>&1
}

ensure_node_modules
if ! has_webgpu_adapter || ! has_gles; then
  install_vulkan_driver
  if ! has_webgpu_adapter; then
    echo "setup: still no WebGPU adapter after installing Mesa lavapipe; GPU tests will fail" >&2
    exit 1
  fi
fi
