# tests/gpu/model_sources.sh: sourced by the scripts that build the whole GPU
# model with nvcc/gcc and no configure (model_run.sh, accum_run.sh): the
# compiler line NV, the model's CUDA sources K, the CPU reference's C
# sources CPU that its checks link, and model_objects DIR, which compiles
# both into DIR (in parallel) and sets KO and OBJS to the object lists.
NV="nvcc -std=c++17 -O3 -arch=sm_90 -Xcompiler -Wall,-Wextra,-Werror,-fopenmp -I. -Icommon"
K="kernels/gpu_model.cu kernels/gpu_model_pass.cu kernels/gpu_model_optim.cu
 kernels/dense_kernels.cu kernels/dense_attn.cu kernels/gemm.cu kernels/peer.cu
 kernels/peer_route.cu kernels/peer_route_bwd.cu kernels/peer_expert.cu kernels/peer_scores.cu
 kernels/moe_gpu.cu kernels/moe_kernels.cu kernels/flash_attn.cu kernels/flash_attn_bwd.cu"
CPU="trainer/model.c trainer/model_pass.c trainer/matmul.c trainer/rmsnorm.c trainer/rope.c
 trainer/attention.c trainer/swiglu.c trainer/crossentropy.c trainer/moe.c trainer/peer.c
 trainer/trng.c trainer/optim.c common/err.c"

model_objects() {
    for f in $CPU; do
        gcc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -Wall -Wextra -Werror -I. -Icommon -Itrainer -c "$f" \
            -o "$1/$(basename "$f" .c).o" &
    done
    KO=""
    for f in $K; do
        o="$1/k_$(basename "$f" .cu).o"
        rm -f "$o"
        $NV -c "$f" -o "$o" &
        KO="$KO $o"
    done
    wait
    OBJS=$(for f in $CPU; do printf '%s ' "$1/$(basename "$f" .c).o"; done)
}
