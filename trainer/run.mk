# trainer/run.mk: the training driver (data, optimiser, runs, checkpoints): libtrainrun.a
