#!/bin/sh
# setup.sh: installs what is missing (Debian 12, as root), builds, then runs
# one job:
#   sh setup.sh demo         the main job: llm720 run demo (built-in defaults)
#   sh setup.sh check        the tests: make check
#   sh setup.sh sanitizers   the tests again in an ASan + UBSan build (_build-san/)
set -eu
job=${1:-demo}
case "$job" in demo|check|sanitizers) ;; *) echo "setup.sh: unknown job '$job' (expected demo, check or sanitizers)" >&2; exit 2 ;; esac
cd "$(dirname "$0")"

# Debian packages the build, the tests and the demos need.
pkgs="build-essential autoconf automake pkg-config libgsl-dev libnlopt-dev libcjson-dev
      liblua5.4-dev lua5.4 gnuplot-nox fortunes jargon-text"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup.sh: installing$missing"
    if [ "$(id -u)" != 0 ]; then echo "setup.sh: run as root to install:$missing" >&2; exit 2; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
    ./autogen.sh >/dev/null 2>&1 || ./autogen.sh
fi

# Builds live outside the source tree: _build/ (plain) and _build-san/ (sanitizers).
if [ -f config.status ]; then
    echo "setup.sh: the source tree is configured in place; run 'make distclean' first" >&2
    exit 2
fi
build=_build
flags=""
if [ "$job" = sanitizers ]; then build=_build-san; flags="--enable-sanitizers"; fi
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || ../configure -q $flags
make -s -j"$jobs"
case "$job" in
    check|sanitizers) make -s -j"$jobs" check ;;
    demo) cd .. && "$build/llm720" run scripts/demo.lua ;;
esac
