#!/bin/sh
# Regenerates configure and Makefile.in from configure.ac and Makefile.am.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf -fi
for d in /usr/share/automake-*; do
  if [ -f "$d/tap-driver.sh" ]; then cp -f "$d/tap-driver.sh" build-aux/; break; fi
done
