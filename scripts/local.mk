# scripts/: Lua experiments, installed to $(pkgdatadir)/scripts.
nobase_dist_pkgdata_DATA += scripts/demo.lua
