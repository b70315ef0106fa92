# scripts/: Lua experiments, installed to $(pkgdatadir)/scripts.
nobase_dist_pkgdata_DATA += scripts/demo.lua scripts/constant_compute.lua \
	scripts/constant_active.lua scripts/granularity.lua scripts/hardware_plan.lua \
	scripts/lib/sweep.lua scripts/lib/law.lua scripts/lib/report.lua scripts/lib/deploy.lua scripts/lib/trace.lua
EXTRA_DIST += scripts/README.md
TESTS += tests/test_scripts.sh
EXTRA_DIST += tests/test_scripts.sh
