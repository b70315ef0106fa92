#!/bin/sh
# test_gpu_nocuda.sh: stands for the GPU checks in a build without CUDA.
echo "1..0 # SKIP no GPU (built without CUDA)"
