/* lua_extra.c: module functions beyond the subcommands (none yet). */
#include <lauxlib.h>

#include "lua_host.h"

const luaL_Reg l720_lua_extra[] = {
    {NULL, NULL},
};
