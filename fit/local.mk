# fit/local.mk: scaling laws and the fitter: libfit.a
noinst_LIBRARIES += libfit.a
libfit_a_SOURCES = fit/ehat.c fit/ehat.h
L720_LIBS += libfit.a
