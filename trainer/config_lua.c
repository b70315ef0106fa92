/* config_lua.c: a config file written as a Lua table, e.g.
 *   return { d_model = 128, layers = 4, ffn = "moe:8", lr = 3e-3 }
 * (the "return" may be left out). The chunk runs with the base, math and
 * string libraries only. */
#include "config_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

static int load_chunk(lua_State *L, const char *path, const char *text, size_t len)
{
    char name[512];
    snprintf(name, sizeof name, "@%s", path);
    if (luaL_loadbufferx(L, text, len, name, "t") == LUA_OK)
        return 0;
    /* a bare table constructor: retry as "return <text>" */
    size_t n = len + 8;
    char *ret = malloc(n);
    if (!ret)
        return -1;
    memcpy(ret, "return ", 7);
    memcpy(ret + 7, text, len);
    int rc = luaL_loadbufferx(L, ret, len + 7, name, "t");
    free(ret);
    if (rc == LUA_OK) {
        lua_remove(L, -2); /* the first error */
        return 0;
    }
    lua_pop(L, 1); /* keep the first error message */
    return -1;
}

int l720_cfg_read_lua(l720_train_cfg *cfg, const char *path, const char *text, size_t len,
                      l720_err *err)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return l720_err_set(err, L720_EFAIL, "out of memory");
    luaL_requiref(L, "_G", luaopen_base, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    lua_settop(L, 0);
    int rc = 0;
    if (load_chunk(L, path, text, len) != 0 || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        rc = l720_err_set(err, L720_EINPUT, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1)
                                                                        : "cannot load");
    } else if (!lua_istable(L, -1)) {
        rc = l720_err_set(err, L720_EINPUT, "%s: expected the file to give a Lua table of "
                          "config keys", path);
    } else {
        lua_pushnil(L);
        while (!rc && lua_next(L, -2)) {
            char buf[64];
            const char *val = buf;
            if (lua_type(L, -2) != LUA_TSTRING) {
                rc = l720_err_set(err, L720_EINPUT, "%s: config keys must be names", path);
            } else if (lua_isinteger(L, -1)) {
                snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, -1));
            } else if (lua_type(L, -1) == LUA_TNUMBER) {
                snprintf(buf, sizeof buf, "%.17g", (double)lua_tonumber(L, -1));
            } else if (lua_type(L, -1) == LUA_TBOOLEAN) {
                snprintf(buf, sizeof buf, "%d", lua_toboolean(L, -1));
            } else if (lua_type(L, -1) == LUA_TSTRING) {
                val = lua_tostring(L, -1);
            } else {
                rc = l720_err_set(err, L720_EINPUT, "%s: key '%s': expected a number, string or "
                                  "boolean", path, lua_tostring(L, -2));
            }
            if (!rc)
                rc = l720_cfg_set(cfg, lua_tostring(L, -2), val, path, err);
            lua_pop(L, 1);
        }
    }
    lua_close(L);
    return rc;
}
