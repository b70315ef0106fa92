# fit/plan.mk: the planner over laws (shape calculus, optima, budgets): libplan.a
noinst_LIBRARIES += libplan.a
libplan_a_SOURCES = \
	fit/plan_law.c fit/plan_law.h \
	fit/plan_shape.c fit/plan_shape.h \
	fit/plan_opt.c fit/plan_opt.h \
	fit/plan_table.c fit/plan_table.h \
	fit/plan_report.c fit/plan_report.h
L720_LIBS += libplan.a

plan_tests = tests/test_plan_shape tests/test_plan_opt
check_PROGRAMS += $(plan_tests)
TESTS += $(plan_tests) tests/test_plan_cli.sh
EXTRA_DIST += tests/test_plan_cli.sh
tests_test_plan_shape_LDADD = $(L720_LDADD)
tests_test_plan_opt_LDADD = $(L720_LDADD)

EXTRA_PROGRAMS += bench/bench_plan_table
bench_bench_plan_table_LDADD = $(L720_LDADD)
CLEANFILES += bench/bench_plan_table
