# fit/local.mk: scaling laws and the fitter: libfit.a
noinst_LIBRARIES += libfit.a
libfit_a_SOURCES = fit/ehat.c fit/ehat.h \
	fit/law.c fit/law.h fit/law_chinchilla.c fit/law_clark.c fit/law_joint_moe.c \
	fit/law_finegrained.c \
	fit/objective.c fit/objective.h fit/grid.c fit/grid.h \
	fit/multistart.c fit/multistart.h fit/validate.c fit/validate.h \
	fit/job.c fit/job.h fit/dataset.c fit/dataset.h fit/data_csv.c fit/data_jsonl.c fit/rowfilter.c
L720_LIBS += libfit.a

# Benchmark (built on demand: make bench/bench_fit; never run by make check).
EXTRA_PROGRAMS += bench/bench_fit
bench_bench_fit_SOURCES = bench/bench_fit.c
bench_bench_fit_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fit
bench_bench_fit_LDADD = $(L720_LDADD)

# Tests
fit_tests = tests/test_fit_law tests/test_fit_epoch tests/test_fit_data tests/test_fit_recovery
check_PROGRAMS += $(fit_tests)
TESTS += $(fit_tests)
tests_test_fit_law_LDADD = $(L720_LDADD)
tests_test_fit_recovery_LDADD = $(L720_LDADD)
tests_test_fit_data_LDADD = $(L720_LDADD)
tests_test_fit_epoch_LDADD = $(L720_LDADD)
TESTS += tests/test_fit_cli.sh
EXTRA_DIST += tests/test_fit_cli.sh
