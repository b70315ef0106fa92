# tests/: unit tests (TAP). Each folder's local.mk may add its own.
common_tests = tests/test_csv tests/test_json tests/test_fileio tests/test_opts \
	tests/test_rng_progress tests/test_hardware
check_PROGRAMS += $(common_tests)
TESTS += $(common_tests) tests/test_cli.sh tests/test_lua.sh
EXTRA_DIST += tests/tap.h tests/tap.sh tests/test_cli.sh tests/test_lua.sh
tests_test_csv_LDADD = $(L720_LDADD)
tests_test_json_LDADD = $(L720_LDADD)
tests_test_fileio_LDADD = $(L720_LDADD)
tests_test_opts_LDADD = $(L720_LDADD)
tests_test_rng_progress_LDADD = $(L720_LDADD)
tests_test_hardware_LDADD = $(L720_LDADD)
