# trainer/: (nothing built yet)
