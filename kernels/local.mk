# kernels/: (nothing built yet)
