# kernels/: the GPU kernels (libkernels.a), built only with CUDA: the PEER
# layer (peer*.cu, C API in peer_gpu.h), the dense kernels (dense_*.cu), the
# whole model with any mix of FFN kinds (gpu_model*.cu, gpu_model.h),
# cuBLASLt products (gemm.cu) and the device check behind `--device cuda`
# (gpu_device.cu).
if HAVE_CUDA
noinst_LIBRARIES += libkernels.a
libkernels_a_SOURCES = \
	kernels/peer_gpu.h kernels/peer.cu kernels/peer_kernels.cuh kernels/peer_topk.cuh \
	kernels/peer_route.cu kernels/peer_route_bwd.cu kernels/peer_expert.cu kernels/peer_scores.cu \
	kernels/gemm.h kernels/gemm.cu kernels/gpu_util.cuh kernels/gpu_device.h kernels/gpu_device.cu \
	kernels/dense_gpu.h kernels/dense_kernels.cu kernels/dense_attn.cu \
	kernels/moe_gpu.h kernels/moe_gpu.cu kernels/moe_kernels.cuh kernels/moe_kernels.cu \
	kernels/gpu_model.h kernels/gpu_model_impl.cuh kernels/gpu_model.cu kernels/gpu_model_pass.cu \
	kernels/gpu_model_optim.cu
L720_LIBS += libkernels.a

# GPU checks: a visible skip when no GPU answers.
check_PROGRAMS += tests/test_gpu_peer
TESTS += tests/test_gpu_peer
tests_test_gpu_peer_SOURCES = tests/test_gpu_peer.cu tests/gpu/peer_ref.cu tests/gpu/peer_ref.h tests/gpu/host_bf16.h tests/gpu/gpu_check.h
tests_test_gpu_peer_LDADD = $(L720_LDADD) -lstdc++

check_PROGRAMS += tests/test_gpu_dense
TESTS += tests/test_gpu_dense
tests_test_gpu_dense_SOURCES = tests/test_gpu_dense.cu tests/gpu/host_bf16.h tests/gpu/gpu_check.h
tests_test_gpu_dense_LDADD = $(L720_LDADD) -lstdc++

check_PROGRAMS += tests/test_gpu_model
TESTS += tests/test_gpu_model
tests_test_gpu_model_SOURCES = tests/test_gpu_model.cu tests/gpu/host_bf16.h tests/gpu/gpu_check.h
tests_test_gpu_model_LDADD = $(L720_LDADD) -lstdc++

check_PROGRAMS += tests/test_gpu_accum
TESTS += tests/test_gpu_accum
tests_test_gpu_accum_SOURCES = tests/test_gpu_accum.cu tests/gpu/host_bf16.h tests/gpu/gpu_check.h
tests_test_gpu_accum_LDADD = $(L720_LDADD) -lstdc++

check_PROGRAMS += tests/test_gpu_moe
TESTS += tests/test_gpu_moe
tests_test_gpu_moe_SOURCES = tests/test_gpu_moe.cu tests/gpu/host_bf16.h tests/gpu/gpu_check.h
tests_test_gpu_moe_LDADD = $(L720_LDADD) -lstdc++

EXTRA_PROGRAMS += bench/bench_moe_layer
bench_bench_moe_layer_SOURCES = bench/bench_moe_layer.cu
bench_bench_moe_layer_LDADD = $(L720_LDADD) -lstdc++

EXTRA_PROGRAMS += bench/bench_dense
bench_bench_dense_SOURCES = bench/bench_dense.cu
bench_bench_dense_LDADD = $(L720_LDADD) -lstdc++

EXTRA_PROGRAMS += bench/bench_moe_step
bench_bench_moe_step_SOURCES = bench/bench_moe_step.cu
bench_bench_moe_step_LDADD = $(L720_LDADD) -lstdc++

EXTRA_PROGRAMS += bench/bench_peer
bench_bench_peer_SOURCES = bench/bench_peer.cu
bench_bench_peer_LDADD = $(L720_LDADD) -lstdc++

# fused causal attention (flash_attn.h), its checks and benchmark
libkernels_a_SOURCES += kernels/flash_attn.h kernels/flash_mma.cuh kernels/flash_attn.cu kernels/flash_attn_bwd.cu
check_PROGRAMS += tests/test_gpu_flash
TESTS += tests/test_gpu_flash
tests_test_gpu_flash_SOURCES = tests/test_gpu_flash.cu tests/gpu/host_bf16.h tests/gpu/gpu_check.h
tests_test_gpu_flash_LDADD = $(L720_LDADD) -lstdc++
EXTRA_PROGRAMS += bench/bench_flash
bench_bench_flash_SOURCES = bench/bench_flash.cu
bench_bench_flash_LDADD = $(L720_LDADD) -lstdc++

# nvcc writes no dependency files here, so every CUDA object is remade when
# any header a .cu file includes changes (the C objects track their own).
L720_CUDA_INCS = kernels/dense_gpu.h kernels/flash_attn.h kernels/flash_mma.cuh kernels/gemm.h \
	kernels/gpu_device.h kernels/gpu_model.h kernels/gpu_model_impl.cuh kernels/gpu_util.cuh \
	kernels/moe_gpu.h kernels/moe_kernels.cuh kernels/peer_gpu.h kernels/peer_kernels.cuh \
	kernels/peer_topk.cuh tests/gpu/gpu_check.h tests/gpu/host_bf16.h tests/gpu/peer_ref.h \
	common/err.h trainer/model.h trainer/optim.h
$(libkernels_a_OBJECTS) $(tests_test_gpu_peer_OBJECTS) $(tests_test_gpu_dense_OBJECTS) \
	$(tests_test_gpu_model_OBJECTS) $(tests_test_gpu_accum_OBJECTS) $(tests_test_gpu_moe_OBJECTS) \
	$(tests_test_gpu_flash_OBJECTS) $(bench_bench_moe_layer_OBJECTS) $(bench_bench_dense_OBJECTS) \
	$(bench_bench_moe_step_OBJECTS) $(bench_bench_peer_OBJECTS) $(bench_bench_flash_OBJECTS): \
	$(L720_CUDA_INCS)
else
TESTS += tests/test_gpu_nocuda.sh
endif
EXTRA_DIST += tests/test_gpu_nocuda.sh tests/gpu/all_run.sh tests/gpu/accum_run.sh tests/gpu/model_sources.sh bench/kernel_profile.sh tests/gpu/run.sh tests/gpu/model_run.sh bench/model_h100_log.txt kernels/model_NOTES.md tests/gpu/moe_run.sh bench/moe_h100_log.txt kernels/moe_NOTES.md tests/gpu/flash_run.sh bench/flash_tune.sh bench/flash_h100_log.txt kernels/flash_NOTES.md bench/dense_gpu.sh bench/dense_h100_log.txt bench/peer_gpu.sh bench/peer_variants.sh bench/peer_torch.py
