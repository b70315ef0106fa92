# kernels/stream.mk: the GPU expert-streaming benchmark (ground truth for sim)
