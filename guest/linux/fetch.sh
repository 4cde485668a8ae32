#!/usr/bin/env bash
# Fetches Debian's pinned kernel package (apt-get download), checks it by sha256 and copies the files the
# Linux guest needs into OUT: the bzImage exactly as shipped (the loader decompresses its xz payload) and the
# kernel config. Usage: fetch.sh CACHE_DIR OUT_DIR. A package already in CACHE_DIR is reused; when OUT_DIR
# already holds the pinned files (checked by sha256) and there is no package, nothing is downloaded.
set -euo pipefail
PKG=linux-image-6.1.0-57-amd64
VERSION=6.1.192-3
DEB="${PKG}_${VERSION}_amd64.deb"
DEB_SHA256=14d219d01e1283261817d961dbb3895cb5b4288d0de10e0ba0632a0d993e15bf
VMLINUZ_SHA256=85667e6c72245133bd7e3e80bac7d16b26fda15c0a3c68faa4b713850ea526cd
CONFIG_SHA256=f75010e906eac59e85ab3fab9de8f197af2fc9dbd37415d3f3b74d11b7de2438
cache=$1 out=$2
mkdir -p "$out"
# The committed files are enough when they are the pinned ones (a checkout needs no Debian tools).
if [ ! -f "$cache/$DEB" ] && [ -f "$out/vmlinuz-6.1.0-57-amd64" ] && [ -f "$out/config-6.1.0-57-amd64" ] &&
   printf '%s  %s\n%s  %s\n' "$VMLINUZ_SHA256" "$out/vmlinuz-6.1.0-57-amd64" "$CONFIG_SHA256" "$out/config-6.1.0-57-amd64" |
   sha256sum -c --quiet - 2>/dev/null; then
  exit 0
fi
if [ ! -f "$cache/$DEB" ]; then
  command -v apt-get >/dev/null || { echo "fetch.sh: apt-get not found: Debian's $PKG $VERSION is needed" >&2; exit 1; }
  mkdir -p "$cache"
  (cd "$cache" && apt-get download "$PKG=$VERSION")
fi
echo "$DEB_SHA256  $cache/$DEB" | sha256sum -c --quiet - || { echo "fetch.sh: $cache/$DEB: wrong sha256" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$cache/$DEB" | tar -x -C "$tmp" ./boot/vmlinuz-6.1.0-57-amd64 ./boot/config-6.1.0-57-amd64
echo "$VMLINUZ_SHA256  $tmp/boot/vmlinuz-6.1.0-57-amd64" | sha256sum -c --quiet -
echo "$CONFIG_SHA256  $tmp/boot/config-6.1.0-57-amd64" | sha256sum -c --quiet -
cp "$tmp/boot/vmlinuz-6.1.0-57-amd64" "$tmp/boot/config-6.1.0-57-amd64" "$out/"
chmod 644 "$out/vmlinuz-6.1.0-57-amd64" "$out/config-6.1.0-57-amd64"
