# trainer/local.mk: the CPU reference model (layers, forward, backward): libmodel.a
