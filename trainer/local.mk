# trainer/local.mk: the CPU reference model (layers, forward, backward): libmodel.a
# trainer/run.mk: the training driver (data, optimiser, runs, checkpoints): libtrainrun.a
# The model depends only on libc, libm, OpenMP and common/err.{c,h}.
noinst_LIBRARIES += libmodel.a
libmodel_a_SOURCES = \
	trainer/model.h trainer/model_impl.h trainer/model.c trainer/model_pass.c \
	trainer/trng.c trainer/trng.h \
	trainer/rmsnorm.c trainer/rmsnorm.h \
	trainer/rope.c trainer/rope.h \
	trainer/attention.c trainer/attention.h \
	trainer/swiglu.c trainer/swiglu.h \
	trainer/crossentropy.c trainer/crossentropy.h \
	trainer/moe.c trainer/moe.h \
	trainer/peer.c trainer/peer.h \
	trainer/gradcheck.c trainer/gradcheck.h trainer/par.h trainer/simd.h
L720_LIBS += libmodel.a

# The matrix products, where the time goes, get vectorised inner loops: their sums keep
# one order per build (bitwise repeatable runs), but not the order of the plain loops
# elsewhere, which the exact PEER top-k test compares against. So only this file.
noinst_LIBRARIES += libmatmul.a
libmatmul_a_SOURCES = trainer/matmul.c trainer/matmul.h
libmatmul_a_CFLAGS = $(AM_CFLAGS) $(MODEL_OPT_CFLAGS)
L720_LIBS += libmatmul.a

model_tests = tests/test_model_layers tests/test_model_moe tests/test_model_peer \
	tests/test_model_full
check_PROGRAMS += $(model_tests)
TESTS += $(model_tests)
tests_test_model_layers_LDADD = $(L720_LDADD)
tests_test_model_moe_LDADD = $(L720_LDADD)
tests_test_model_peer_LDADD = $(L720_LDADD)
tests_test_model_full_LDADD = $(L720_LDADD)

# Benchmark (built on demand: make bench/bench_model; never run by make check).
EXTRA_PROGRAMS += bench/bench_model
bench_bench_model_LDADD = $(L720_LDADD)
CLEANFILES += bench/bench_model
