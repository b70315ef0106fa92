/* lua_host.c: the llm720 Lua module and the script runner. */
#include "lua_host.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "json_io.h"
#include "opts.h"
#include "paths.h"

void l720_lua_push_json(lua_State *L, const cJSON *j)
{
    luaL_checkstack(L, 4, "JSON too deep");
    if (!j || cJSON_IsNull(j) || cJSON_IsInvalid(j)) {
        lua_pushnil(L);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            lua_pushinteger(L, (lua_Integer)d);
        else
            lua_pushnumber(L, d);
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        lua_Integer i = 1;
        for (const cJSON *c = j->child; c; c = c->next) {
            l720_lua_push_json(L, c);
            lua_rawseti(L, -2, i++);
        }
    } else {
        lua_newtable(L);
        for (const cJSON *c = j->child; c; c = c->next) {
            l720_lua_push_json(L, c);
            lua_setfield(L, -2, c->string);
        }
    }
}

/* 1 when the table at idx has only keys 1..n (n >= 1), or is empty. */
static int is_sequence(lua_State *L, int idx)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1 || k > n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == n;
}

cJSON *l720_lua_to_json(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 4, "table too deep");
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        return cJSON_CreateNumber(lua_tonumber(L, idx));
    case LUA_TSTRING:
        return cJSON_CreateString(lua_tostring(L, idx));
    case LUA_TTABLE:
        if (is_sequence(L, idx) && lua_rawlen(L, idx) > 0) {
            cJSON *a = cJSON_CreateArray();
            lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, idx, i);
                cJSON_AddItemToArray(a, l720_lua_to_json(L, -1));
                lua_pop(L, 1);
            }
            return a;
        } else {
            cJSON *o = cJSON_CreateObject();
            lua_pushnil(L);
            while (lua_next(L, idx)) {
                lua_pushvalue(L, -2);
                const char *k = luaL_tolstring(L, -1, NULL);
                cJSON_AddItemToObject(o, k, l720_lua_to_json(L, -3));
                lua_pop(L, 3);
            }
            return o;
        }
    default:
        return cJSON_CreateNull();
    }
}

/* ---- table -> command line --------------------------------------------- */

/* Formats the scalar at idx as an argument; returns 0 if it is not a scalar. */
static int scalar_text(lua_State *L, int idx, char *buf, size_t n)
{
    if (lua_isinteger(L, idx))
        snprintf(buf, n, "%lld", (long long)lua_tointeger(L, idx));
    else if (lua_type(L, idx) == LUA_TNUMBER)
        snprintf(buf, n, "%.17g", lua_tonumber(L, idx));
    else if (lua_type(L, idx) == LUA_TSTRING)
        snprintf(buf, n, "%s", lua_tostring(L, idx));
    else
        return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends s to the argument list (a Lua table at index list). */
static void push_arg(lua_State *L, int list, const char *s)
{
    lua_pushstring(L, s);
    lua_rawseti(L, list, (lua_Integer)lua_rawlen(L, list) + 1);
}

/* Pushes a Lua list of strings: the command line for the options table at
 * idx (nothing when idx is none/nil). All memory is Lua's, so a Lua error
 * raised here leaks nothing. */
static void table_to_args(lua_State *L, int idx, const char *fname)
{
    lua_newtable(L);
    int list = lua_gettop(L);
    if (lua_isnoneornil(L, idx))
        return;
    if (!lua_istable(L, idx))
        luaL_error(L, "llm720.%s: expected a table of options", fname);
    char buf[8192];
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        if (!scalar_text(L, -1, buf, sizeof buf))
            luaL_error(L, "llm720.%s: positional argument %d must be a string or number", fname,
                       (int)i);
        push_arg(L, list, buf);
        lua_pop(L, 1);
    }
    /* string keys, sorted so the command line (and its errors) is deterministic */
    lua_newtable(L);
    int keyt = lua_gettop(L);
    int nk = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_pushvalue(L, -1);
            lua_rawseti(L, keyt, ++nk);
        } else if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
                   lua_tointeger(L, -1) > n) {
            luaL_error(L, "llm720.%s: option keys must be names", fname);
        }
    }
    const char **keys = lua_newuserdatauv(L, (size_t)(nk ? nk : 1) * sizeof *keys, 0);
    for (int k = 0; k < nk; k++) {
        lua_rawgeti(L, keyt, k + 1);
        keys[k] = lua_tostring(L, -1); /* anchored in keyt */
        lua_pop(L, 1);
    }
    qsort(keys, (size_t)nk, sizeof *keys, cmp_str);
    for (int k = 0; k < nk; k++) {
        char opt[256];
        snprintf(opt, sizeof opt, "--%s", keys[k]);
        for (char *p = opt + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        lua_getfield(L, idx, keys[k]);
        int t = lua_type(L, -1);
        if (t == LUA_TBOOLEAN) {
            if (lua_toboolean(L, -1))
                push_arg(L, list, opt);
        } else if (t == LUA_TTABLE) {
            size_t len = 0;
            buf[0] = '\0';
            lua_Integer m = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer i = 1; i <= m && len < sizeof buf; i++) {
                char item[256];
                lua_rawgeti(L, -1, i);
                if (!scalar_text(L, -1, item, sizeof item))
                    luaL_error(L, "llm720.%s: option '%s' must list strings or numbers", fname,
                               keys[k]);
                lua_pop(L, 1);
                len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i > 1 ? "," : "", item);
            }
            push_arg(L, list, opt);
            push_arg(L, list, buf);
        } else if (scalar_text(L, -1, buf, sizeof buf)) {
            push_arg(L, list, opt);
            push_arg(L, list, buf);
        } else {
            luaL_error(L, "llm720.%s: option '%s' must be a string, number, boolean or list",
                       fname, keys[k]);
        }
        lua_pop(L, 1);
    }
    lua_settop(L, list);
}

/* Upvalue 1: the l720_cmd pointer (light userdata). */
static int call_cmd(lua_State *L)
{
    const l720_cmd *cmd = lua_touserdata(L, lua_upvalueindex(1));
    char fname[64];
    snprintf(fname, sizeof fname, "%s", cmd->name);
    for (char *p = fname; *p; p++)
        if (*p == '-')
            *p = '_';
    table_to_args(L, 1, fname);
    int list = lua_gettop(L);
    int argc = (int)lua_rawlen(L, list);
    /* argv points at strings anchored in the list; the vector itself is Lua's */
    char **argv = lua_newuserdatauv(L, (size_t)(argc + 1) * sizeof *argv, 0);
    for (int i = 0; i < argc; i++) {
        lua_rawgeti(L, list, i + 1);
        argv[i] = (char *)lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    argv[argc] = NULL;
    l720_cmdio io = {stdout, 1};
    cJSON *result = NULL;
    l720_err err;
    l720_err_clear(&err);
    int rc = cmd->run(argc, argv, &io, &result, &err);
    if (rc == L720_HELP) {
        cJSON_Delete(result);
        lua_pushnil(L);
        return 1;
    }
    if (rc) {
        cJSON_Delete(result);
        luaL_where(L, 1);
        /* option errors already start with the subcommand's name */
        const char *msg = err.msg[0] ? err.msg : "failed";
        size_t n = strlen(cmd->name);
        if (!strncmp(msg, cmd->name, n) && msg[n] == ':')
            msg += n + 1 + (msg[n + 1] == ' ');
        lua_pushfstring(L, "llm720.%s: %s", fname, msg);
        lua_concat(L, 2);
        return lua_error(L);
    }
    l720_lua_push_json(L, result);
    cJSON_Delete(result);
    return 1;
}

static int l_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    cJSON *j = l720_lua_to_json(L, 1);
    char *s = lua_toboolean(L, 2) ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    lua_pushstring(L, s ? s : "null");
    free(s);
    return 1;
}

static int l_json_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    l720_err err;
    cJSON *j = l720_json_parse(s, n, "json_decode", &err);
    if (!j)
        return luaL_error(L, "llm720.json_decode: %s", err.msg);
    l720_lua_push_json(L, j);
    cJSON_Delete(j);
    return 1;
}

static int l_data_dir(lua_State *L)
{
    lua_pushstring(L, l720_data_dir());
    return 1;
}

static int l_scripts_dir(lua_State *L)
{
    lua_pushstring(L, l720_scripts_dir());
    return 1;
}

/* Formats the value at idx into buf for a table cell. */
static void cell_text(lua_State *L, int idx, char *buf, size_t n)
{
    if (lua_isinteger(L, idx))
        snprintf(buf, n, "%lld", (long long)lua_tointeger(L, idx));
    else if (lua_type(L, idx) == LUA_TNUMBER) {
        double d = lua_tonumber(L, idx);
        snprintf(buf, n, (fabs(d) >= 1e5 || (fabs(d) < 1e-3 && d != 0)) ? "%.4g" : "%.4f", d);
    } else if (lua_isnil(L, idx))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%s", luaL_tolstring(L, idx, NULL)), lua_pop(L, 1);
}

/* llm720.print_table(rows [, columns]): prints rows (a list of tables) as an
 * aligned text table; columns lists the keys (default: the first row's keys,
 * sorted). */
static int l_print_table(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int have_cols = lua_istable(L, 2);
    lua_Integer nrows = (lua_Integer)lua_rawlen(L, 1);
    if (!have_cols) {
        lua_newtable(L);
        if (nrows > 0) {
            lua_rawgeti(L, 1, 1);
            luaL_checktype(L, -1, LUA_TTABLE);
            int k = 0;
            const char *names[256];
            lua_pushnil(L);
            while (lua_next(L, -2) && k < 256) {
                lua_pop(L, 1);
                if (lua_type(L, -1) == LUA_TSTRING)
                    names[k++] = lua_tostring(L, -1);
            }
            qsort(names, (size_t)k, sizeof *names, cmp_str);
            for (int i = 0; i < k; i++) {
                lua_pushstring(L, names[i]);
                lua_rawseti(L, -3, i + 1);
            }
            lua_pop(L, 1);
        }
        lua_replace(L, 2);
    }
    lua_Integer ncols = (lua_Integer)lua_rawlen(L, 2);
    if (ncols > 64)
        ncols = 64;
    size_t width[64];
    char buf[256];
    for (lua_Integer c = 1; c <= ncols; c++) {
        lua_rawgeti(L, 2, c);
        width[c - 1] = strlen(luaL_checkstring(L, -1));
        lua_pop(L, 1);
        for (lua_Integer r = 1; r <= nrows; r++) {
            lua_rawgeti(L, 1, r);
            lua_rawgeti(L, 2, c);
            lua_gettable(L, -2);
            cell_text(L, -1, buf, sizeof buf);
            if (strlen(buf) > width[c - 1])
                width[c - 1] = strlen(buf);
            lua_pop(L, 2);
        }
    }
    for (lua_Integer c = 1; c <= ncols; c++) {
        lua_rawgeti(L, 2, c);
        printf("%s%*s", c > 1 ? "  " : "", (int)width[c - 1], lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    printf("\n");
    for (lua_Integer r = 1; r <= nrows; r++) {
        lua_rawgeti(L, 1, r);
        for (lua_Integer c = 1; c <= ncols; c++) {
            lua_rawgeti(L, 2, c);
            lua_gettable(L, -2);
            cell_text(L, -1, buf, sizeof buf);
            printf("%s%*s", c > 1 ? "  " : "", (int)width[c - 1], buf);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        printf("\n");
    }
    fflush(stdout);
    return 0;
}

static const luaL_Reg helpers[] = {
    {"json_encode", l_json_encode}, {"json_decode", l_json_decode}, {"data_dir", l_data_dir},
    {"scripts_dir", l_scripts_dir}, {"print_table", l_print_table}, {NULL, NULL},
};

int luaopen_llm720(lua_State *L)
{
    lua_newtable(L);
    for (const l720_cmd *c = l720_cmds; c->name; c++) {
        if (!strcmp(c->name, "run"))
            continue;
        char fname[64];
        snprintf(fname, sizeof fname, "%s", c->name);
        for (char *p = fname; *p; p++)
            if (*p == '-')
                *p = '_';
        lua_pushlightuserdata(L, (void *)c);
        lua_pushcclosure(L, call_cmd, 1);
        lua_setfield(L, -2, fname);
    }
    luaL_setfuncs(L, helpers, 0);
    luaL_setfuncs(L, l720_lua_extra, 0);
    return 1;
}

/* Message handler: keeps the message to one line ("FILE:LINE: message"). */
static int msgh(lua_State *L)
{
    const char *m = lua_tostring(L, 1);
    if (!m)
        m = luaL_tolstring(L, 1, NULL);
    lua_pushstring(L, m ? m : "(error object is not a string)");
    return 1;
}

int l720_lua_run_file(const char *path, int argc, char **argv, l720_err *err)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return l720_err_set(err, L720_EFAIL, "cannot create a Lua state");
    luaL_openlibs(L);
    luaL_requiref(L, "llm720", luaopen_llm720, 1);
    lua_pop(L, 1);
    /* arg: arg[0] = script, arg[1..] = arguments */
    lua_createtable(L, argc, 1);
    lua_pushstring(L, path);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
    /* scripts may require their siblings and the installed scripts folder */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?.lua;", dir, l720_scripts_dir());
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);

    int rc = 0;
    lua_pushcfunction(L, msgh);
    if (luaL_loadfile(L, path) != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        if (m && strstr(m, "cannot open"))
            rc = l720_err_set(err, L720_EINPUT, "%s: cannot open the script", path);
        else
            rc = l720_err_set(err, L720_EINPUT, "%s", m ? m : "cannot load the script");
    } else {
        for (int i = 0; i < argc; i++)
            lua_pushstring(L, argv[i]);
        if (lua_pcall(L, argc, 0, -2 - argc) != LUA_OK)
            rc = l720_err_set(err, L720_EINPUT, "%s", lua_tostring(L, -1));
    }
    lua_close(L);
    return rc;
}
