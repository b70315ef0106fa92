# fit/: (nothing built yet)
