# trainer/run.mk: the training driver (data, optimiser, runs, checkpoints): libtrainrun.a
noinst_LIBRARIES += libtrainrun.a
libtrainrun_a_SOURCES = \
	trainer/train_rng.h \
	trainer/data.c trainer/data.h \
	trainer/data_prepare.c trainer/data_prepare.h \
	trainer/optim.c trainer/optim.h \
	trainer/config_train.c trainer/config_train.h trainer/config_model.c trainer/config_lua.c \
	trainer/ckpt.c trainer/ckpt.h \
	trainer/train_log.c trainer/train_log.h \
	trainer/train_backend.h trainer/train_step_cpu.c \
	trainer/train.c trainer/train.h trainer/train_state.h trainer/train_eval.c
# The cuda backend calls kernels/ (after trainer in the link order): CUDA builds only.
# The GPU model is C++: every program that links the driver needs its runtime.
if HAVE_CUDA
libtrainrun_a_SOURCES += trainer/train_step_cuda.c
L720_EXTLIBS += -lstdc++
else
libtrainrun_a_SOURCES += trainer/train_device.c
endif
L720_LIBS += libtrainrun.a

train_tests = tests/test_data_shard tests/test_data_prepare tests/test_train_optim \
	tests/test_train_config tests/test_train_ckpt tests/test_train_log tests/test_train_accum
check_PROGRAMS += $(train_tests)
TESTS += $(train_tests)
tests_test_data_shard_LDADD = $(L720_LDADD)
tests_test_data_prepare_LDADD = $(L720_LDADD)
tests_test_train_optim_LDADD = $(L720_LDADD)
tests_test_train_config_LDADD = $(L720_LDADD)
tests_test_train_ckpt_LDADD = $(L720_LDADD)
tests_test_train_log_LDADD = $(L720_LDADD)
tests_test_train_accum_SOURCES = tests/test_train_accum.c tests/train_fixture.h
tests_test_train_accum_LDADD = $(L720_LDADD)

# The cuda backend over a stand-in GPU model (the CPU model): every build.
check_PROGRAMS += tests/test_train_cuda
TESTS += tests/test_train_cuda
tests_test_train_cuda_SOURCES = tests/test_train_cuda.c tests/train_fixture.h tests/fake_gpu_model.c \
	trainer/train_step_cuda.c
tests_test_train_cuda_LDADD = $(L720_LDADD)

EXTRA_PROGRAMS += bench/bench_train
bench_bench_train_LDADD = $(L720_LDADD)

TESTS += tests/test_train_cli.sh
EXTRA_DIST += tests/test_train_cli.sh tests/gpu/train_stage.sh tests/gpu/train_run.sh \
	tests/gpu/cuda_sizes.sh tests/gpu/accum_run.sh bench/train_gpu_h100_log.txt \
	bench/moe_step_accum_h100_log.txt
