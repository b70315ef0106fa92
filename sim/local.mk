# sim/: the memory-hierarchy simulator (libsim.a), its tests and benchmark.
noinst_LIBRARIES += libsim.a
libsim_a_SOURCES = \
	sim/sim.h sim/sim.c sim/config.c sim/result_json.c \
	sim/trace.h sim/trace.c \
	sim/alias.h sim/alias.c sim/routing.h sim/routing.c \
	sim/cache.h sim/cache.c sim/lruq.h sim/lruq.c sim/belady.c \
	sim/eventq.h sim/eventq.c sim/timing.h sim/timing.c \
	sim/models.h sim/models.c \
	sim/sweep.h sim/sweep.c
L720_LIBS += libsim.a
EXTRA_DIST += sim/MODELS.md sim/TRACE.md

sim_tests = tests/test_sim_cache tests/test_sim_models tests/test_sim_trace tests/test_sim_run
check_PROGRAMS += $(sim_tests)
TESTS += $(sim_tests) tests/test_sim_cli.sh
EXTRA_DIST += tests/test_sim_cli.sh
tests_test_sim_cache_LDADD = $(L720_LDADD)
tests_test_sim_models_LDADD = $(L720_LDADD)
tests_test_sim_trace_LDADD = $(L720_LDADD)
tests_test_sim_run_LDADD = $(L720_LDADD)

# Benchmark (never run by make check): make bench/bench_sim
EXTRA_PROGRAMS += bench/bench_sim
bench_bench_sim_LDADD = $(L720_LDADD)
