#!/bin/sh
# tests/gpu/train_stage.sh: gathers what `llm720 train --device cuda` needs on
# a GPU machine that has the CUDA toolkit and driver but none of the
# toolkit's other libraries (GSL, NLopt, cJSON, Lua): the binary, the shared
# libraries it links beyond the C library, the C++ runtime and CUDA, and a
# small prepared byte-level dataset. tests/gpu/train_run.sh runs from there.
# Run from the source root on the build machine:
#   sh tests/gpu/train_stage.sh BUILD STAGE [TEXT...]
# BUILD: a CUDA build (configure found nvcc) holding llm720. TEXT: the files
# to prepare (default: the fortunes database and the Jargon File, as the
# scripts' corpus).
set -e
B=$1
S=$2
shift 2
mkdir -p "$S/lib"
cp "$B/llm720" "$S/llm720"
ldd "$B/llm720" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r so; do
    case $(basename "$so") in
    libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libgcc_s.so* | \
        libstdc++.so* | libcuda.so* | libcudart.so* | libcublas*.so*) ;;
    *) cp -L "$so" "$S/lib/" ;;
    esac
done
if [ $# = 0 ]; then
    for f in /usr/share/games/fortunes/* /usr/share/doc/jargon-text/jargon.txt.gz; do
        case $f in *.dat | *.u8) continue ;; esac
        [ -f "$f" ] && [ -r "$f" ] && set -- "$@" "$f"
    done
fi
rm -rf "$S/data"
"$B/llm720" prepare-data --out "$S/data" "$@" > /dev/null
echo '{}' > "$S/data/done.json" # a finished preparation, for the scripts' sweeps
ls "$S/lib"
du -sh "$S"
