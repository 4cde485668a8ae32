#!/bin/sh
# Build vmt_witness.ko against Debian's linux-headers for the committed kernel (guest/linux/README.md
# "The kernel-module witness"). Usage: build.sh OUT.ko [BUILDDIR]. Needs linux-headers-6.1.0-57-amd64
# (6.1.192-3) and gcc-12. Reproducible: the sources are built in a scratch directory and the debug
# information (which holds that directory's path) is stripped, so the .ko depends only on the sources,
# the headers and the compiler.
set -eu
KVER=6.1.0-57-amd64
HDR=/usr/src/linux-headers-$KVER
here=$(cd "$(dirname "$0")" && pwd)
out=$1
build=${2:-$(mktemp -d /tmp/vmt-witness.XXXXXX)}
if [ ! -f "$HDR/Makefile" ]; then
  echo "build.sh: $HDR is missing: apt-get install linux-headers-$KVER=6.1.192-3" >&2
  exit 2
fi
mkdir -p "$build"
cp "$here/vmt_witness.c" "$here/Kbuild" "$build/"
cp "$here/../../images/hyperupcalls/trace.bin" "$build/"
make -s -C "$HDR" M="$build" CC=gcc-12 KCFLAGS="-ffile-prefix-map=$build/=" KBUILD_BUILD_USER=vmtrace KBUILD_BUILD_HOST=vmtrace modules >"$build/build.log" 2>&1 || { cat "$build/build.log" >&2; exit 1; }
objcopy --strip-debug --remove-section=.comment "$build/vmt_witness.ko" "$out"
