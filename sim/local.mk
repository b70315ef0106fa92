# sim/: (nothing built yet)
