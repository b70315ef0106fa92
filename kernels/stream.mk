# kernels/stream.mk: the GPU expert-streaming benchmark (ground truth for sim)
#
# bench/bench_stream runs the workloads on a GPU (bench/stream_gpu.sh builds
# it with nvcc alone on a GPU machine); bench/bench_stream_traces writes the
# same routing traces without one, for bench/stream_compare.sh.
stream_sched_sources = kernels/stream_sched.c kernels/stream_sched.h kernels/stream_configs.c

EXTRA_PROGRAMS += bench/bench_stream_traces
bench_bench_stream_traces_SOURCES = bench/stream_traces.c $(stream_sched_sources)
bench_bench_stream_traces_LDADD = -lm

if HAVE_CUDA
EXTRA_PROGRAMS += bench/bench_stream
bench_bench_stream_SOURCES = kernels/stream_bench.cu kernels/stream_kernels.cuh $(stream_sched_sources)
bench_bench_stream_LDADD = $(CUDA_LIBS) -lstdc++ -lm
endif

check_PROGRAMS += tests/test_stream_sched
TESTS += tests/test_stream_sched
tests_test_stream_sched_SOURCES = tests/test_stream_sched.c $(stream_sched_sources)
tests_test_stream_sched_LDADD = -lm

EXTRA_DIST += bench/stream_gpu.sh bench/stream_compare.sh bench/stream_compare.lua \
	bench/stream_h100_profile.json bench/stream_h100_compare.csv \
	bench/stream_h100_steps_0425.csv bench/stream_h100_steps_0435a.csv \
	bench/stream_h100_steps_0435b.csv bench/stream_h100_micro_0425.csv \
	bench/stream_h100_micro_0435a.csv bench/stream_h100_micro_0435b.csv \
	bench/stream_h100_log_0425.txt bench/stream_h100_log_0435.txt
