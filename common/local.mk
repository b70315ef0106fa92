# common/: shared C utilities (libcommon.a) and the llm720 command with its Lua host.
noinst_LIBRARIES += libcommon.a
libcommon_a_SOURCES = \
	common/err.c common/err.h \
	common/csv.c common/csv.h \
	common/fileio.c common/fileio.h \
	common/json_io.c common/json_io.h \
	common/rng.c common/rng.h \
	common/progress.c common/progress.h \
	common/opts.c common/opts.h \
	common/paths.c common/paths.h \
	common/hardware.c common/hardware.h \
	common/gnuplot.c common/gnuplot.h
L720_LIBS += libcommon.a

bin_PROGRAMS += llm720
llm720_SOURCES = \
	common/main.c common/cmd.h common/cmd_table.c \
	common/cmd_plan.c common/cmd_fit.c common/cmd_sim.c common/cmd_train.c \
	common/cmd_prepare_data.c common/cmd_plot.c \
	common/cmd_plot_fit.c common/cmd_plot_plan.c common/cmd_plot_sim.c common/cmd_run.c common/cmd_version.c \
	common/lua_host.c common/lua_host.h common/lua_extra.c
llm720_LDADD = $(L720_LDADD)
