# bench/: benchmarks (built by 'make bench', run by bench/run.sh).
